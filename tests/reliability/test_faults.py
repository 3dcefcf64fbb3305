"""Reliability catalogue, family "infrastructure faults": lost or corrupt breaker state, S3
out of reach, calls failing mid-way, poison batches and crashed invocations. Under each,
nothing wrong is published and no input is lost: the batch is held, left in place for the
retry, or quarantined with the reason; the retry publishes exactly once."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from mlcycle.breaker.state import initial_state
from tests.integration.helpers import SCHEDULED, keys, upload_training
from tests.reliability.faults_helpers import (
    EVENTS_KEY,
    HOTELS,
    SAMPLE_FILES,
    Invocations,
    alarm_event,
    assert_held,
    assert_nothing_published,
    assert_published_once,
    assert_quarantined,
    assert_untouched,
    edit_csv,
    exists,
    inference_rule,
    put_state,
    read_json,
    rule_state,
    s3_unreachable,
    state_bytes,
    upload,
    use_config,
    versions,
)

CLOSED_STATE = initial_state()
OPEN_STATE = {
    **initial_state(),
    "state": "OPEN",
    "revision": 1,
    "since": "2026-01-02T00:00:00+00:00",
    "cause": {"reason": "alarm", "alarm": "mlcycle-booking_status-JoinCoverage"},
    "tripped_at": "2026-01-02T00:00:00+00:00",
}
# Every country "ZZ": within the contract (a two-letter code), but the plug-in below fails on it.
POISON_FILES = {
    **SAMPLE_FILES,
    HOTELS: edit_csv(
        SAMPLE_FILES[HOTELS], lambda ls: [ls[0]] + [f"{ln.split(',')[0]},ZZ" for ln in ls[1:]]
    ),
}
POISON_ERROR = "ValueError: plug-in bug: cannot score country 'ZZ'"


def _batch(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def _poison_plugin(monkeypatch, error: Exception | None = None) -> None:
    """The plug-in's predict raises for batches with country ZZ (other batches score as usual)."""
    from mlcycle.plugin import Plugin

    original = Plugin.predict

    def predict(self, model, features):
        if features["country_code"].eq("ZZ").any():
            raise error or ValueError("plug-in bug: cannot score country 'ZZ'")
        return original(self, model, features)

    monkeypatch.setattr(Plugin, "predict", predict)


def _failures(s3, buckets, batch_id: str) -> dict | None:
    key = f"failures/{batch_id}.json"
    return (
        read_json(s3, buckets.monitoring, key)["kinds"]
        if exists(s3, buckets.monitoring, key)
        else None
    )


def _event_log(s3, buckets) -> list[dict]:
    if not exists(s3, buckets.monitoring, EVENTS_KEY):
        return []
    body = s3.get_object(Bucket=buckets.monitoring, Key=EVENTS_KEY)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def _client_error(code: str, operation: str = "PutObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"simulated {code}"}}, operation)


# --- breaker state lost or corrupt: UNKNOWN holds, changes nothing, until a repair ----------

UNKNOWN_STATES = {
    "deleted": None,
    "empty_object": {},
    "unknown_state_value": {**CLOSED_STATE, "state": "open"},
    "not_json": b"state: CLOSED\n",
    "zero_bytes": b"",
    "json_array": b"[]",
    "half_open_without_probation": {**CLOSED_STATE, "state": "HALF_OPEN", "probation": None},
    "revision_not_a_count": {**CLOSED_STATE, "revision": "7"},
}


@pytest.mark.parametrize("case", list(UNKNOWN_STATES))
def test_unknown_breaker_state_holds_a_new_batch(case, deployed, s3):
    from handlers import infer

    put_state(s3, deployed, UNKNOWN_STATES[case])
    stored = state_bytes(s3, deployed)
    batch_id = _batch("unknown-state")
    result = infer.handler(upload(s3, deployed.data, batch_id), None)

    assert result["counts"] == {"held": 1}, result
    assert_held(s3, deployed, batch_id, "breaker state unknown")
    assert state_bytes(s3, deployed) == stored  # reading it wrote nothing over it


@pytest.mark.parametrize(
    "event",
    [
        alarm_event(),
        {"action": "open", "reason": "drill", "actor": "ops:alice"},
        {"action": "close", "reason": "looks fine to me", "actor": "ops:bob"},
    ],
    ids=["alarm", "operator_open", "operator_close"],
)
def test_only_a_repair_changes_an_unknown_state(event, deployed, s3, monkeypatch):
    from handlers import breaker

    rule = inference_rule(monkeypatch)
    invocations = Invocations(monkeypatch)
    put_state(s3, deployed, None)

    result = breaker.handler(event, None)

    # an alarm notification reports a result per alarm, an operator action its transition
    [outcome] = result["results"] if "Records" in event else [result]
    state = outcome["state"] if "Records" in event else outcome["state"]["state"]
    assert (outcome["changed"], state) == (False, "UNKNOWN")
    assert any('"action": "repair"' in effect for effect in outcome["effects"])
    assert state_bytes(s3, deployed) is None and _event_log(s3, deployed) == []
    assert rule_state(rule) == "ENABLED" and invocations.calls == []


def test_scheduled_training_is_deferred_while_the_state_is_unknown(own_models, s3):
    from handlers import train

    upload_training(s3, own_models.data)
    put_state(s3, own_models, {"state": "open"})

    result = train.handler(SCHEDULED, None)

    assert result["status"] == "deferred" and "breaker state unknown" in result["reason"]
    assert keys(s3, own_models.models, "models/booking_status/v0002") == []
    aliases = read_json(s3, own_models.models, "models/booking_status/aliases.json")
    assert aliases["champion"] == "v0001"


def test_repair_then_close_publishes_the_held_batches(deployed, s3, monkeypatch):
    from handlers import breaker, infer

    rule = inference_rule(monkeypatch)
    invocations = Invocations(monkeypatch)
    put_state(s3, deployed, None)
    first, second = _batch("held-first"), _batch("held-second")
    assert infer.handler(upload(s3, deployed.data, first), None)["counts"] == {"held": 1}

    repaired = breaker.handler(
        {"action": "repair", "reason": "state deleted by a cleanup job", "actor": "ops:alice"},
        None,
    )

    assert repaired["changed"] and repaired["state"]["state"] == "OPEN"
    assert rule_state(rule) == "DISABLED"
    [line] = _event_log(s3, deployed)
    assert (line["from"], line["to"], line["actor"]) == ("UNKNOWN", "OPEN", "ops:alice")
    assert line["cause"]["reason"] == "state deleted by a cleanup job"
    # OPEN still holds: a repair publishes nothing by itself
    assert infer.handler(upload(s3, deployed.data, second), None)["counts"] == {"held": 1}
    assert_nothing_published(s3, deployed, first)

    closed = breaker.handler({"action": "close", "reason": "checked", "actor": "ops:bob"}, None)

    assert closed["changed"] and closed["state"]["state"] == "CLOSED"
    assert rule_state(rule) == "ENABLED"
    assert _event_log(s3, deployed)[-1]["actor"] == "ops:bob"
    assert invocations.calls == [
        ("INFER_FUNCTION_NAME", {"action": "score_held", "probation": False})
    ]
    replay = infer.handler(invocations.calls[0][1], None)  # what that async invoke runs
    assert replay["counts"] == {"published": 2}
    for batch_id in (first, second):
        manifest = assert_published_once(s3, deployed, batch_id)
        assert manifest["input_prefix"] == f"held/{batch_id}/"


# --- S3 out of reach ----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["s3_event", "direct_request", "rescan"])
def test_s3_out_of_reach_fails_the_invocation_and_loses_nothing(trigger, deployed, s3):
    from handlers import infer

    batch_id = _batch("unreachable")
    notification = upload(s3, deployed.data, batch_id)
    event = {
        "s3_event": notification,
        "direct_request": {"batch_id": batch_id},
        "rescan": SCHEDULED,
    }[trigger]
    with s3_unreachable(), pytest.raises(EndpointConnectionError):
        infer.handler(event, None)

    assert_untouched(s3, deployed, batch_id)
    assert_nothing_published(s3, deployed, batch_id)
    assert _failures(s3, deployed, batch_id) is None  # not the batch's fault: not counted
    assert json.loads(state_bytes(s3, deployed))["state"] == "CLOSED"
    # Lambda's retry, once S3 answers again, publishes exactly once
    assert infer.handler(event, None)["counts"] == {"published": 1}
    assert_published_once(s3, deployed, batch_id)


def test_alarm_during_an_outage_fails_and_its_retry_opens_the_breaker(deployed, s3, monkeypatch):
    from handlers import breaker

    rule = inference_rule(monkeypatch)
    invocations = Invocations(monkeypatch)
    with s3_unreachable(), pytest.raises(EndpointConnectionError):
        breaker.handler(alarm_event(), None)

    assert json.loads(state_bytes(s3, deployed))["state"] == "CLOSED"
    assert rule_state(rule) == "ENABLED" and invocations.calls == []
    [outcome] = breaker.handler(alarm_event(), None)["results"]
    assert outcome["changed"] and outcome["state"] == "OPEN"
    assert rule_state(rule) == "DISABLED"
    assert [env for env, _ in invocations.calls] == ["TRAIN_FUNCTION_NAME"]


def test_unreadable_breaker_state_fails_the_invocation_instead_of_publishing(
    deployed, s3, monkeypatch
):
    from handlers import infer
    from mlcycle.objectstore import ObjectStore

    original = ObjectStore.get_with_etag

    def get_with_etag(self, bucket, key):
        if key == "breaker/state.json":
            raise _client_error("AccessDenied", "GetObject")
        return original(self, bucket, key)

    monkeypatch.setattr(ObjectStore, "get_with_etag", get_with_etag)
    batch_id = _batch("state-denied")
    with pytest.raises(ClientError, match="AccessDenied"):
        infer.handler(upload(s3, deployed.data, batch_id), None)

    assert_untouched(s3, deployed, batch_id)
    assert_nothing_published(s3, deployed, batch_id)
    assert keys(s3, deployed.data, "held/") == []


# --- a call failing mid-way ---------------------------------------------------------------


@pytest.mark.parametrize(
    "error, raised",
    [
        (EndpointConnectionError(endpoint_url="http://s3.invalid"), EndpointConnectionError),
        (RuntimeError("invocation killed while writing _SUCCESS"), "BatchFailed"),
    ],
    ids=["transient", "crash"],
)
def test_failure_writing_success_publishes_nothing_and_the_retry_publishes_once(
    error, raised, deployed, s3, monkeypatch
):
    from handlers import infer
    from mlcycle.inference import BatchFailed
    from mlcycle.objectstore import ObjectStore

    original = ObjectStore.put_json

    def put_json(self, bucket, key, doc, *args, **kwargs):
        if key.endswith("/_SUCCESS"):
            raise error
        return original(self, bucket, key, doc, *args, **kwargs)

    batch_id = _batch("success-fails")
    event = upload(s3, deployed.data, batch_id)
    with monkeypatch.context() as patch:
        patch.setattr(ObjectStore, "put_json", put_json)
        with pytest.raises(BatchFailed if raised == "BatchFailed" else raised):
            infer.handler(event, None)

    assert not exists(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS")
    assert not exists(s3, deployed.predictions, f"predictions/{batch_id}/_LEASE")
    assert_untouched(s3, deployed, batch_id)
    counted = {f"RuntimeError: {error}": 1} if raised == "BatchFailed" else None
    assert _failures(s3, deployed, batch_id) == counted

    assert infer.handler(event, None)["counts"] == {"published": 1}
    assert_published_once(s3, deployed, batch_id)
    assert _failures(s3, deployed, batch_id) is None  # a success clears the count
    assert infer.handler(event, None)["counts"] == {"already_published": 1}
    assert versions(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS") == 1


def test_predict_failing_after_some_chunks_leaves_no_partial_output(deployed, s3, monkeypatch):
    from handlers import infer
    from mlcycle.inference import BatchFailed
    from mlcycle.plugin import Plugin

    use_config(monkeypatch, chunk_rows=100)
    original, calls = Plugin.predict, []

    def predict(self, model, features):
        calls.append(len(features))
        if len(calls) == 3:
            raise MemoryError("simulated: out of memory on the third chunk")
        return original(self, model, features)

    batch_id = _batch("chunk-fails")
    event = upload(s3, deployed.data, batch_id)
    with monkeypatch.context() as patch:
        patch.setattr(Plugin, "predict", predict)
        with pytest.raises(BatchFailed, match="MemoryError"):
            infer.handler(event, None)

    assert calls == [100, 100, 100]
    # two chunks were written into the multipart upload: it was aborted, not completed
    assert versions(s3, deployed.predictions, f"predictions/{batch_id}/predictions.csv") == 0
    assert s3.list_multipart_uploads(Bucket=deployed.predictions).get("Uploads", []) == []
    assert_nothing_published(s3, deployed, batch_id)
    assert_untouched(s3, deployed, batch_id)
    assert infer.handler(event, None)["counts"] == {"published": 1}
    assert_published_once(s3, deployed, batch_id)
    assert versions(s3, deployed.predictions, f"predictions/{batch_id}/predictions.csv") == 1


def _fail_second_move(monkeypatch) -> None:
    """ObjectStore.move raises (connection lost) on its second call: a move half done."""
    from mlcycle.objectstore import ObjectStore

    original, calls = ObjectStore.move, []

    def move(self, bucket, key, dst):
        calls.append(key)
        if len(calls) == 2:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return original(self, bucket, key, dst)

    monkeypatch.setattr(ObjectStore, "move", move)


def test_a_hold_interrupted_mid_move_is_completed_by_the_retry(deployed, s3, monkeypatch):
    from handlers import infer

    put_state(s3, deployed, OPEN_STATE)
    batch_id = _batch("hold-cut")
    event = upload(s3, deployed.data, batch_id)
    with monkeypatch.context() as patch:
        _fail_second_move(patch)
        with pytest.raises(EndpointConnectionError):
            infer.handler(event, None)

    assert infer.handler(event, None)["counts"] == {"held": 1}
    assert_held(s3, deployed, batch_id, "breaker OPEN")


def test_a_quarantine_interrupted_mid_move_is_completed_by_the_retry(deployed, s3, monkeypatch):
    from handlers import infer

    files = {**SAMPLE_FILES, "bookings": SAMPLE_FILES["bookings"].replace(b"\n", b"\n\xff", 1)}
    batch_id = _batch("quarantine-cut")
    event = upload(s3, deployed.data, batch_id, files)
    with monkeypatch.context() as patch:
        _fail_second_move(patch)
        with pytest.raises(EndpointConnectionError):
            infer.handler(event, None)

    [outcome] = infer.handler(event, None)["results"]
    assert_quarantined(s3, deployed, batch_id, outcome, "encoding UTF-8", None)


# --- poison batches -----------------------------------------------------------------------


def test_poison_batch_does_not_stop_a_healthy_batch_in_the_rescan(deployed, s3, monkeypatch):
    from handlers import infer

    _poison_plugin(monkeypatch)
    poison, healthy = _batch("a-poison"), _batch("b-healthy")  # the poison one sorts first
    upload(s3, deployed.data, poison, POISON_FILES)
    upload(s3, deployed.data, healthy)

    result = infer.handler(SCHEDULED, None)

    assert result["counts"] == {"error": 1, "published": 1}
    by_id = {r["batch_id"]: r for r in result["results"]}
    assert by_id[poison]["status"] == "error" and by_id[poison]["error"] == POISON_ERROR
    assert by_id[poison]["attempts"] == 1
    assert _failures(s3, deployed, poison) == {POISON_ERROR: 1}
    assert_untouched(s3, deployed, poison)
    assert_nothing_published(s3, deployed, poison)
    assert_published_once(s3, deployed, healthy)


def test_third_identical_failure_quarantines_as_internal_error(deployed, s3, monkeypatch):
    from handlers import infer

    _poison_plugin(monkeypatch)
    poison = _batch("poison")
    upload(s3, deployed.data, poison, POISON_FILES)

    runs = [infer.handler(SCHEDULED, None) for _ in range(2)]
    assert [r["counts"] for r in runs] == [{"error": 1}, {"error": 1}]
    assert _failures(s3, deployed, poison) == {POISON_ERROR: 2}
    assert_untouched(s3, deployed, poison)

    [outcome] = infer.handler(SCHEDULED, None)["results"]

    doc = assert_quarantined(s3, deployed, poison, outcome, "internal error", None)
    assert doc["reason"]["detail"] == POISON_ERROR
    assert doc["reason"]["message"] == f"internal error 3 times: {POISON_ERROR}"
    assert _failures(s3, deployed, poison) == {POISON_ERROR: 3}
    # not retried forever: the next rescan does not score it again. (moto still lists the
    # emptied folder of a versioned bucket, its delete markers, so it may report it "waiting"
    # with every source missing; S3 does not list it at all.)
    after = infer.handler(SCHEDULED, None)
    assert after["counts"] in ({}, {"waiting": 1}), after


def test_s3_triggered_poison_batch_fails_for_lambda_to_retry_then_is_quarantined(
    deployed, s3, monkeypatch
):
    from handlers import infer
    from mlcycle.inference import BatchFailed

    _poison_plugin(monkeypatch)
    poison = _batch("poison-s3")
    event = upload(s3, deployed.data, poison, POISON_FILES)
    for attempt in (1, 2):  # Lambda's two retries of an asynchronous event
        with pytest.raises(BatchFailed, match=poison):
            infer.handler(event, None)
        assert _failures(s3, deployed, poison) == {POISON_ERROR: attempt}
        assert_untouched(s3, deployed, poison)

    result = infer.handler(event, None)  # the last allowed failure does not raise

    assert result["counts"] == {"quarantined": 1}
    assert_quarantined(s3, deployed, poison, result["results"][0], "internal error", None)


def test_different_failures_are_counted_apart(deployed, s3, monkeypatch):
    from handlers import infer
    from mlcycle.plugin import Plugin

    errors = iter([KeyError("a"), KeyError("a"), TypeError("b")])

    def predict(self, model, features):
        raise next(errors)

    monkeypatch.setattr(Plugin, "predict", predict)
    batch_id = _batch("flaky")
    upload(s3, deployed.data, batch_id)

    runs = [infer.handler(SCHEDULED, None)["counts"] for _ in range(3)]

    assert runs == [{"error": 1}] * 3  # three failures, but no kind three times
    assert _failures(s3, deployed, batch_id) == {"KeyError: 'a'": 2, "TypeError: b": 1}
    assert_untouched(s3, deployed, batch_id)
    assert_nothing_published(s3, deployed, batch_id)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="http://s3.invalid"),
        _client_error("SlowDown"),
        _client_error("ServiceUnavailable", "GetObject"),
    ],
    ids=["endpoint_connection", "slow_down", "service_unavailable"],
)
def test_transient_error_is_reraised_and_never_counted(error, deployed, s3, monkeypatch):
    from handlers import infer

    _poison_plugin(monkeypatch, error)
    batch_id = _batch("transient")
    event = upload(s3, deployed.data, batch_id, POISON_FILES)
    for _ in range(4):  # more than max_attempts: still never quarantined
        with pytest.raises(type(error)) as raised:
            infer.handler(event, None)
        assert raised.value is error

    assert _failures(s3, deployed, batch_id) is None
    assert keys(s3, deployed.data, "quarantine/") == []
    assert_untouched(s3, deployed, batch_id)
    assert_nothing_published(s3, deployed, batch_id)


def test_held_batch_replay_scores_the_others_past_a_poison_batch(deployed, s3, monkeypatch):
    from handlers import infer

    put_state(s3, deployed, OPEN_STATE)
    poison, healthy = _batch("a-poison-held"), _batch("b-healthy-held")
    for batch_id, files in ((poison, POISON_FILES), (healthy, None)):
        assert infer.handler(upload(s3, deployed.data, batch_id, files), None)["counts"] == {
            "held": 1
        }
    put_state(s3, deployed, {**OPEN_STATE, "state": "CLOSED", "revision": 2, "cause": None})
    _poison_plugin(monkeypatch)

    result = infer.handler({"action": "score_held", "probation": False}, None)

    assert result["counts"] == {"error": 1, "published": 1}
    assert _failures(s3, deployed, poison) == {POISON_ERROR: 1}
    assert_published_once(s3, deployed, healthy)
    assert_nothing_published(s3, deployed, poison)
    assert keys(s3, deployed.data, f"held/{poison}/") == [
        f"held/{poison}/{name}" for name in ("bookings.csv", "held.json", "hotels.csv")
    ]


# --- crashed and concurrent invocations ---------------------------------------------------


def _lease(s3, buckets, batch_id: str, minutes: int) -> bytes:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    body = json.dumps({"owner": "crashed-invocation", "expires_at": expires.isoformat()}).encode()
    s3.put_object(Bucket=buckets.predictions, Key=f"predictions/{batch_id}/_LEASE", Body=body)
    return body


def test_lease_left_by_a_crashed_invocation_is_taken_over(deployed, s3):
    from handlers import infer

    batch_id = _batch("stale-lease")
    _lease(s3, deployed, batch_id, minutes=-5)

    result = infer.handler(upload(s3, deployed.data, batch_id), None)

    assert result["counts"] == {"published": 1}
    assert_published_once(s3, deployed, batch_id)
    assert keys(s3, deployed.predictions, f"predictions/{batch_id}/") == [
        f"predictions/{batch_id}/_SUCCESS",
        f"predictions/{batch_id}/predictions.csv",
    ]


def test_live_lease_makes_a_duplicate_delivery_stand_back(deployed, s3):
    from handlers import infer

    batch_id = _batch("live-lease")
    body = _lease(s3, deployed, batch_id, minutes=10)

    result = infer.handler(upload(s3, deployed.data, batch_id), None)

    assert result["results"] == [{"status": "in_progress", "batch_id": batch_id}]
    assert keys(s3, deployed.predictions) == [f"predictions/{batch_id}/_LEASE"]
    lease = s3.get_object(Bucket=deployed.predictions, Key=f"predictions/{batch_id}/_LEASE")
    assert lease["Body"].read() == body  # the owner's lease is left alone
    assert_untouched(s3, deployed, batch_id)
    # the owner died after all: once its lease expires, a later delivery scores the batch
    _lease(s3, deployed, batch_id, minutes=-1)
    assert infer.handler({"batch_id": batch_id}, None)["counts"] == {"published": 1}
    assert_published_once(s3, deployed, batch_id)
