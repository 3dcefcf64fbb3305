"""Every breaker edge, with its state in real S3 (moto_server) and its side effects recorded."""

import json
import threading

import pytest

from mlcycle.breaker.machine import Breaker
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN
from mlcycle.objectstore import ObjectStore, PreconditionFailed


class RecordingActions:
    def __init__(self):
        self.calls = []
        self.awaiting = set()  # scored on probation, not published

    def disable_inference(self):
        self.calls.append("disable")

    def enable_inference(self):
        self.calls.append("enable")

    def request_retrain(self, cause):
        self.calls.append("retrain")

    def score_held(self, probation):
        self.calls.append(f"score_held(probation={probation})")

    def release_probation(self, batch_ids):
        self.calls.append(f"release {batch_ids}")
        self.awaiting -= set(batch_ids)
        return batch_ids

    def awaiting_verdict(self, batch_id):
        return batch_id in self.awaiting

    def scored_on_probation(self, version):
        return sorted(self.awaiting)

    def reject_batch(self, batch_id, reason):
        self.calls.append(f"reject {batch_id}")

    def return_to_held(self, batch_id, reason):
        self.calls.append(f"return {batch_id}")

    def publish_state(self, state):
        self.calls.append(f"metric {state}")


@pytest.fixture
def actions():
    return RecordingActions()


@pytest.fixture
def breaker(buckets, actions):
    return Breaker(ObjectStore(), buckets.monitoring, actions, probation_batches=2)


def events(s3, buckets):
    body = (
        s3.get_object(Bucket=buckets.monitoring, Key="breaker/events.jsonl")["Body"].read().decode()
    )
    return [json.loads(line) for line in body.splitlines()]


ALARM = {
    "reason": "alarm",
    "alarm": "mlcycle-JoinCoverage",
    "metric": "JoinCoverage",
    "threshold": 0.8,
}


def test_alarm_opens_disables_inference_and_asks_for_a_retrain(breaker, actions, s3, buckets):
    result = breaker.trip(ALARM, actor="alarm:mlcycle-JoinCoverage", model_version="v0001")
    assert result.changed and result.state["state"] == OPEN and result.state["revision"] == 1
    assert actions.calls == ["disable", "retrain", "metric OPEN"]
    [line] = events(s3, buckets)
    assert (line["from"], line["to"], line["actor"], line["model_version"]) == (
        CLOSED,
        OPEN,
        "alarm:mlcycle-JoinCoverage",
        "v0001",
    )
    assert line["cause"]["metric"] == "JoinCoverage" and line["time"]


def test_a_second_alarm_while_open_changes_nothing(breaker, actions):
    breaker.trip(ALARM, actor="alarm")
    actions.calls.clear()
    assert breaker.trip(ALARM, actor="alarm").changed is False and actions.calls == []


def test_promotion_only_matters_while_open(breaker, actions):
    assert breaker.model_promoted("v0002", actor="training").changed is False
    breaker.trip(ALARM, actor="alarm")
    result = breaker.model_promoted("v0002", actor="training")
    assert (
        result.state["state"] == HALF_OPEN and result.state["probation"]["model_version"] == "v0002"
    )
    assert actions.calls[-2:] == ["metric HALF_OPEN", "score_held(probation=True)"]


def test_healthy_probation_batches_close_and_publish(breaker, actions, s3, buckets):
    breaker.trip(ALARM, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    first = breaker.probation_report("b1", True, [], actor="monitor")
    assert first.state["state"] == HALF_OPEN and first.state["probation"]["healthy"] == ["b1"]
    again = breaker.probation_report(
        "b1", True, [], actor="monitor"
    )  # a re-delivered report counts once
    assert again.state["state"] == HALF_OPEN
    closed = breaker.probation_report("b2", True, [], actor="monitor")
    assert closed.state["state"] == CLOSED
    assert actions.calls[-3:] == ["release ['b1', 'b2']", "enable", "metric CLOSED"]
    assert [(e["from"], e["to"]) for e in events(s3, buckets)][-1] == (HALF_OPEN, CLOSED)


def test_a_breach_on_probation_reopens(breaker, actions):
    breaker.trip(ALARM, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    actions.calls.clear()
    result = breaker.probation_report(
        "b1", False, [{"metric": "PredictionDrift", "value": 0.4}], actor="monitor"
    )
    assert (
        result.state["state"] == OPEN and result.state["cause"]["reason"] == "breach on probation"
    )
    # The candidate's fault, not the input's: the batch waits for the next candidate.
    assert actions.calls == ["return b1", "disable", "retrain", "metric OPEN"]
    assert "b1" not in (result.state.get("rejected") or {})


LABEL_TRIP = {
    "reason": "alarm",
    "alarm": "mlcycle-booking_status-EarlyPositiveRate-trip",
    "rule": "EarlyPositiveRate",
    "family": "performance",
}


def test_after_a_label_triggered_trip_only_labelled_verdicts_close_probation(
    breaker, actions, s3, buckets
):
    breaker.trip(LABEL_TRIP, actor="alarm")
    promoted = breaker.model_promoted("v0002", actor="training")
    assert promoted.state["probation"]["labels_required"] is True
    for batch_id in ("b1", "b2", "b3"):  # label-free verdicts cannot see a cancellation wave
        result = breaker.probation_report(batch_id, True, [], actor="monitor")
        assert result.state["state"] == HALF_OPEN
    closed = breaker.probation_report("b2", True, [], "monitor", labelled=True)
    assert closed.state["state"] == CLOSED
    assert closed.state["probation"]["confirmed"] == ["b2"]
    # b1 and b3 were judged without their labels only: they wait for their labelled verdicts.
    assert actions.calls[-3:] == ["release ['b2']", "enable", "metric CLOSED"]
    assert events(s3, buckets)[-1]["cause"]["labelled"] is True
    actions.awaiting = {"b1"}
    actions.calls.clear()
    assert breaker.probation_report("b1", True, [], "monitor").changed is False
    assert actions.calls == []
    late = breaker.probation_report("b1", True, [], "monitor", labelled=True)
    assert late.state["state"] == CLOSED and actions.calls == ["release ['b1']"]


def test_a_labelled_verdict_alone_does_not_close_before_n_healthy_batches(breaker):
    breaker.trip(LABEL_TRIP, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    first = breaker.probation_report("b1", True, [], "monitor", labelled=True)
    assert first.state["state"] == HALF_OPEN and first.state["probation"]["confirmed"] == ["b1"]
    assert breaker.probation_report("b2", True, [], "monitor").state["state"] == CLOSED


def test_a_labelled_breach_on_probation_reopens_and_the_batch_waits_for_the_next_candidate(
    breaker, actions
):
    breaker.trip(LABEL_TRIP, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    breaker.probation_report("b1", True, [], "monitor")
    actions.calls.clear()
    breach = [{"rule": "EarlyPositiveRate", "reason": "2.9 vs normal 1 +- 0.14"}]
    result = breaker.probation_report("b1", False, breach, "monitor", labelled=True)
    assert result.state["state"] == OPEN and actions.calls[0] == "return b1"
    again = breaker.model_promoted("v0003", actor="training")  # the breach was label-triggered
    assert again.state["probation"]["labels_required"] is True


def test_an_integrity_trip_needs_no_labels_to_close(breaker):
    breaker.trip(ALARM, actor="alarm")
    assert (
        breaker.model_promoted("v0002", "training").state["probation"]["labels_required"] is False
    )


def test_operator_can_force_open_and_close_with_a_reason(breaker, actions, s3, buckets):
    opened = breaker.force(OPEN, "vendor says feed is broken", actor="alice")
    assert opened.state["state"] == OPEN
    closed = breaker.force(CLOSED, "feed fixed", actor="alice")
    assert closed.state["state"] == CLOSED and "score_held(probation=False)" in actions.calls
    log = events(s3, buckets)
    assert [e["actor"] for e in log] == ["alice", "alice"]
    assert log[1]["cause"] == {"reason": "feed fixed", "manual": True}
    with pytest.raises(ValueError):
        breaker.force("SIDEWAYS", "", actor="alice")


def test_a_stale_write_loses(breaker, buckets):
    breaker.trip(ALARM, actor="alarm")
    _, etag = breaker.read()
    breaker.force(CLOSED, "first writer", actor="a")
    with pytest.raises(PreconditionFailed):
        ObjectStore().put_json(
            buckets.monitoring, "breaker/state.json", {"state": OPEN}, if_match=etag
        )


def test_two_writers_never_both_win(buckets, s3):
    barrier = threading.Barrier(6)
    results = []

    def trip(i):
        b = Breaker(ObjectStore(), buckets.monitoring, RecordingActions())
        barrier.wait()
        results.append(b.trip({"reason": f"writer {i}"}, actor=f"w{i}"))

    threads = [threading.Thread(target=trip, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.changed for r in results) == 1
    assert len(events(s3, buckets)) == 1


def test_verdicts_on_another_model_or_a_rejected_batch_are_ignored(breaker, actions):
    breaker.trip(ALARM, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    assert (
        breaker.probation_report("b1", False, [], actor="monitor", model_version="v0001").changed
        is False
    )
    # An integrity breach sets the batch aside: a verdict on it from the next candidate is
    # ignored (its input, not the candidate, was wrong).
    breaker.probation_report(
        "b1", False, [{"rule": "JoinCoverage"}], actor="monitor", model_version="v0002"
    )
    again = breaker.probation_report("b1", False, [], actor="monitor", model_version="v0002")
    assert again.changed is False and again.state["state"] == HALF_OPEN


def test_a_trip_records_when_it_happened(breaker):
    assert breaker.read()[0]["tripped_at"] is None
    breaker.trip(ALARM, actor="alarm", model_version="v0001")
    state, _ = breaker.read()
    assert (
        state["tripped_at"] == state["since"][: len(state["tripped_at"])]
        or state["tripped_at"] <= state["since"]
    )
    assert state["model_version"] == "v0001"


def test_a_verdict_after_the_close_still_decides_the_batch(breaker, actions):
    breaker.trip(ALARM, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    breaker.probation_report("b1", True, [], actor="monitor", model_version="v0002")
    closed = breaker.probation_report("b2", True, [], actor="monitor", model_version="v0002")
    assert closed.state["state"] == CLOSED
    actions.awaiting = {"b3", "b4"}  # scored on probation too; their verdicts come late
    actions.calls.clear()

    late = breaker.probation_report("b3", True, [], actor="monitor", model_version="v0002")
    assert late.state["state"] == CLOSED and actions.calls == ["release ['b3']"]
    assert breaker.probation_report("b1", False, [], "monitor", "v0001").changed is False
    refuted = breaker.probation_report(
        "b4", False, [{"rule": "EarlyPositiveRate"}], "monitor", model_version="v0002"
    )
    assert refuted.state["state"] == OPEN and refuted.state["cause"]["batch_id"] == "b4"
    assert actions.calls[1:3] == ["return b4", "disable"]


def test_a_verdict_after_the_close_on_a_published_batch_changes_nothing(breaker, actions):
    breaker.trip(ALARM, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    breaker.probation_report("b1", True, [], actor="monitor")
    breaker.probation_report("b2", True, [], actor="monitor")
    actions.calls.clear()
    # b1 was published on the close: its later refutation is the monitor's usual verdict's.
    again = breaker.probation_report("b1", False, [{"rule": "EarlyPositiveRate"}], "monitor")
    assert again.changed is False and again.state["state"] == CLOSED and actions.calls == []


def test_a_refuted_candidate_sends_every_batch_it_scored_back_to_held(breaker, actions):
    breaker.trip(ALARM, actor="alarm")
    breaker.model_promoted("v0002", actor="training")
    actions.awaiting = {"b1", "b2", "b3"}  # scored on probation by v0002, none published
    breaker.probation_report("b1", True, [], actor="monitor", model_version="v0002")
    actions.calls.clear()

    refuted = breaker.probation_report(
        "b2", False, [{"rule": "RealisedAccuracy"}], "monitor", model_version="v0002"
    )

    assert refuted.state["state"] == OPEN
    # b1 was judged healthy, b3 not yet: neither is published by a refuted candidate, and
    # both wait in held/ for the next one with the breaching b2.
    assert actions.calls[:3] == ["return b2", "return b1", "return b3"]
