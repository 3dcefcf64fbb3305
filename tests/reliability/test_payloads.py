"""Family "payloads": every handler validates its manual payload strictly, and a refused
payload changes nothing.

Each refused case runs against a world where the payload, had it been accepted, would act:
a complete batch waiting in incoming/ and one in held/ (a run would score, move or publish
them), training data beside a models bucket of the case's own (a training run would store
a version), a published batch (a monitor run would write its report), the breaker in the
state the payload would change. Afterwards every version and delete marker of the four
buckets is what it was, the inference rule is still enabled and no other function was
invoked. The accepted forms are checked to still work.
"""

from __future__ import annotations

import importlib
import json

import boto3
import pytest

from mlcycle.errors import EventError
from mlcycle.fields import MAX_TEXT
from tests.integration.helpers import sample_batch_files, upload_batch, upload_training
from tests.reliability.evidence import (
    MODEL,
    SAMPLE_ROWS,
    current_keys,
    get_json,
    publish,
    record_invokes,
    rule_state,
    snapshot_all,
    wire_functions,
)

MB = 1_000_000
HALF_OPEN_STATE = {
    "state": "HALF_OPEN",
    "revision": 2,
    "since": "2026-01-02T10:00:00+00:00",
    "cause": {"reason": "retrained model promoted", "version": "v0001"},
    "model_version": "v0001",
    "probation": {"model_version": "v0001", "healthy": [], "required": 2},
    "rejected": {},
    "tripped_at": "2026-01-02T09:00:00+00:00",
}
OPEN_STATE = {**HALF_OPEN_STATE, "state": "OPEN", "probation": None, "revision": 1}
STATES = {"CLOSED": None, "OPEN": OPEN_STATE, "HALF_OPEN": HALF_OPEN_STATE}


@pytest.fixture
def s3(deployed):
    return boto3.client("s3")


@pytest.fixture
def wired(deployed, monkeypatch):
    from mlcycle import monitor
    from mlcycle.breaker import effects, gate

    names = wire_functions(monkeypatch)
    return names, record_invokes(monkeypatch, effects, gate, monitor)


def _set_state(s3, buckets, state: str) -> None:
    if STATES[state] is not None:
        body = json.dumps(STATES[state]).encode()
        s3.put_object(Bucket=buckets.monitoring, Key="breaker/state.json", Body=body)


def _populate(s3, buckets, training: bool = False):
    """A complete batch waiting in incoming/, one held (and the training data)."""
    if training:
        upload_training(s3, buckets.data)
    upload_batch(s3, buckets.data, "waiting-1", sample_batch_files())
    for source, body in sample_batch_files().items():
        s3.put_object(Bucket=buckets.data, Key=f"held/held-1/{source}.csv", Body=body)
    return buckets


@pytest.fixture
def world(deployed, s3, wired):
    """A world where an accepted payload would act, beside the shared champion (read only)."""
    return _populate(s3, deployed)


@pytest.fixture
def monitored_world(world, s3):
    """The same, with batch done-1 published: an accepted monitor payload would report on it."""
    publish(s3, world, "done-1")
    return world


@pytest.fixture
def own_world(own_models, s3, wired):
    """The same, with a models bucket of the test's own: a training run may write it."""
    return _populate(s3, own_models, training=True)


def _handler(function: str):
    return importlib.import_module(f"handlers.{function}").handler


def case(function, payload, field, state="CLOSED", *, id):
    return pytest.param(function, payload, field, state, id=id)


# train: a refused payload must not start a training run or store a version
REFUSED_TRAIN = [
    case("train", {"force": "false"}, "force", id="train-force-string-false"),
    case("train", {"force": 1}, "force", id="train-force-number"),
    case("train", {"action": "retrain"}, "action", id="train-unknown-action"),
    case("train", {"action": "sign_unsigned", "force": True}, "force", id="train-sign-extra-key"),
    case("train", {"action": "sign_unsigned", "actor": 5}, "actor", id="train-sign-actor-number"),
    case("train", ["not", "an", "object"], None, id="train-list-payload"),
    case("train", "train please", None, id="train-string-payload"),
    case("train", None, None, id="train-null-payload"),
    case("train", {"recent_batches": "2"}, "recent_batches", id="train-count-as-string"),
    case("train", {"recent_batches": True}, "recent_batches", id="train-count-as-boolean"),
    case("train", {"recent_batches": 1.5}, "recent_batches", id="train-count-as-float"),
    case("train", {"recent_batches": 0}, "recent_batches", id="train-count-zero"),
    case("train", {"since": "last week"}, "since", id="train-since-not-a-date"),
    case("train", {"force": True, "reason": "x" * MB}, "reason", id="train-1mb-reason"),
    case("train", {"actor": ["ops"]}, "actor", id="train-actor-list"),
    case("train", {"recovery": "yes"}, "recovery", id="train-recovery-string"),
]

# monitor: a refused payload must not write a report on the published batch done-1
REFUSED_MONITOR = [
    case("monitor", {"batch_id": "../done-1"}, "batch_id", id="monitor-batch-id-traversal"),
    case("monitor", {"batch_id": ["done-1"]}, "batch_id", id="monitor-batch-id-list"),
    case("monitor", {"batch_id": "done-1", "labels": True}, "labels", id="monitor-unknown-key"),
    case("monitor", {"batch": "done-1"}, None, id="monitor-no-batch-id"),
    case("monitor", "done-1", None, id="monitor-string-payload"),
    case("monitor", {"batch_id": "done-1", "action": "rerun"}, "action", id="monitor-action"),
]

REFUSED = [
    # infer: a refused payload must not score, hold or move a batch
    case("infer", {"batch_id": "../../x"}, "batch_id", id="infer-batch-id-traversal"),
    case("infer", {"batch_id": "a/b"}, "batch_id", id="infer-batch-id-slash"),
    case("infer", {"batch_id": ""}, "batch_id", id="infer-batch-id-empty"),
    case("infer", {"batch_id": "b" * 129}, "batch_id", id="infer-batch-id-too-long"),
    case("infer", {"batch_id": 20260102}, "batch_id", id="infer-batch-id-number"),
    case("infer", {"batch_id": "waiting-1", "force": True}, "force", id="infer-unknown-key"),
    case("infer", {"action": "rescore"}, "action", id="infer-unknown-action"),
    case("infer", {"action": "rescan", "batch_id": "waiting-1"}, "batch_id", id="infer-rescan-key"),
    case(
        "infer",
        {"action": "score_held", "probation": "false"},
        "probation",
        "HALF_OPEN",
        id="infer-probation-string-false",
    ),
    case("infer", [], None, id="infer-list-payload"),
    case("infer", {}, None, id="infer-empty-object"),
    # breaker: a refused payload must not move the state or append to the event log
    case(
        "breaker",
        {"action": "model_promoted", "version": "../../evil"},
        "version",
        "OPEN",
        id="breaker-version-traversal",
    ),
    case(
        "breaker",
        {"action": "model_promoted", "version": 2},
        "version",
        "OPEN",
        id="breaker-version-number",
    ),
    case("breaker", {"action": "model_promoted"}, "version", "OPEN", id="breaker-version-missing"),
    case(
        "breaker",
        {"action": "probation_report", "batch_id": "../../x", "healthy": True},
        "batch_id",
        "HALF_OPEN",
        id="breaker-report-batch-id-traversal",
    ),
    case(
        "breaker",
        {"action": "probation_report", "batch_id": "b1", "healthy": "false"},
        "healthy",
        "HALF_OPEN",
        id="breaker-healthy-string-false",
    ),
    case(
        "breaker",
        {"action": "probation_report", "batch_id": "b1"},
        "healthy",
        "HALF_OPEN",
        id="breaker-healthy-missing",
    ),
    case(
        "breaker",
        {"action": "probation_report", "batch_id": "b1", "healthy": False, "breaches": "all"},
        "breaches",
        "HALF_OPEN",
        id="breaker-breaches-not-a-list",
    ),
    case(
        "breaker",
        {
            "action": "probation_report",
            "batch_id": "b1",
            "healthy": False,
            "breaches": [{"metric": "JoinCoverage", "note": "x" * MB}],
        },
        "breaches",
        "HALF_OPEN",
        id="breaker-breaches-1mb",
    ),
    case(
        "breaker",
        {
            "action": "probation_report",
            "batch_id": "b1",
            "healthy": True,
            "model_version": "latest",
        },
        "model_version",
        "HALF_OPEN",
        id="breaker-report-model-version-pattern",
    ),
    case("breaker", {"action": "open", "reason": "x" * MB}, "reason", id="breaker-1mb-reason"),
    case(
        "breaker",
        {"action": "open", "reason": "x" * (MAX_TEXT + 1)},
        "reason",
        id="breaker-reason-one-over-the-bound",
    ),
    case("breaker", {"action": "open", "actor": "a" * MB}, "actor", id="breaker-1mb-actor"),
    case(
        "breaker",
        {"action": "close", "reason": "ok", "actor": 5},
        "actor",
        "OPEN",
        id="breaker-actor-number",
    ),
    case(
        "breaker",
        {"action": "open", "reason": "x", "extra": 1},
        "extra",
        id="breaker-unknown-key",
    ),
    case("breaker", {"action": "explode"}, "action", id="breaker-unknown-action"),
    case("breaker", {"action": ["open"]}, "action", id="breaker-action-list"),
    case("breaker", {"action": "status", "verbose": True}, "verbose", id="breaker-status-key"),
    case("breaker", 42, None, id="breaker-number-payload"),
]


def _refused_changes_nothing(s3, buckets, wired, function, payload, field, state):
    names, invokes = wired
    _set_state(s3, buckets, state)
    state_etag = s3.head_object(Bucket=buckets.monitoring, Key="breaker/state.json")["ETag"]
    before = snapshot_all(s3, buckets)

    with pytest.raises(EventError) as refused:
        _handler(function)(payload, None)

    assert refused.value.field == field
    assert refused.value.where == f"{function} event"
    if field is not None:
        assert f"field '{field}'" in str(refused.value)
    assert len(str(refused.value)) < 2 * MAX_TEXT  # a huge value is never echoed back
    assert snapshot_all(s3, buckets) == before
    assert s3.head_object(Bucket=buckets.monitoring, Key="breaker/state.json")["ETag"] == state_etag
    assert rule_state(names["INFERENCE_RULE_NAME"]) == "ENABLED"
    assert invokes.calls == []


@pytest.mark.parametrize(("function", "payload", "field", "state"), REFUSED_TRAIN)
def test_refused_train_payload_names_the_field_and_trains_nothing(
    own_world, s3, wired, function, payload, field, state
):
    _refused_changes_nothing(s3, own_world, wired, function, payload, field, state)
    assert current_keys(s3, own_world.models, f"models/{MODEL}/v0002/") == []


@pytest.mark.parametrize(("function", "payload", "field", "state"), REFUSED_MONITOR)
def test_refused_monitor_payload_names_the_field_and_reports_nothing(
    monitored_world, s3, wired, function, payload, field, state
):
    _refused_changes_nothing(s3, monitored_world, wired, function, payload, field, state)
    assert current_keys(s3, monitored_world.monitoring, "reports/") == []


@pytest.mark.parametrize(("function", "payload", "field", "state"), REFUSED)
def test_refused_payload_names_the_field_and_changes_nothing(
    world, s3, wired, function, payload, field, state
):
    _refused_changes_nothing(s3, world, wired, function, payload, field, state)


# --- the accepted forms still work --------------------------------------------------------


def test_status_is_accepted_and_changes_nothing(world, s3):
    from handlers import breaker

    before = snapshot_all(s3, world)

    result = breaker.handler({"action": "status"}, None)

    assert result["state"]["state"] == "CLOSED" and result["recent_events"] == []
    assert snapshot_all(s3, world) == before


def test_forced_training_with_a_reason_promotes(own_world, s3, wired):
    _, invokes = wired
    reason = "operator override after review of ticket OPS-1"

    result = _handler("train")({"force": True, "reason": reason}, None)

    assert result["status"] == "promoted" and result["version"] == "v0002"
    aliases = get_json(s3, own_world.models, f"models/{MODEL}/aliases.json")
    assert (aliases["champion"], aliases["previous"]) == ("v0002", "v0001")
    assert aliases["history"][-1]["reason"] == f"forced by invoke: {reason}"
    assert invokes.calls == []  # the breaker is CLOSED: no probation to start


def test_reason_at_the_bound_is_accepted_and_logged_whole(world, s3, wired):
    names, _ = wired
    reason = "r" * MAX_TEXT

    result = _handler("breaker")({"action": "open", "reason": reason, "actor": "alice"}, None)

    assert result["changed"] is True and result["state"]["state"] == "OPEN"
    log = s3.get_object(Bucket=world.monitoring, Key="breaker/events.jsonl")["Body"].read()
    [line] = [json.loads(x) for x in log.decode().splitlines()]
    assert (line["actor"], line["cause"]["reason"], line["to"]) == ("alice", reason, "OPEN")
    assert rule_state(names["INFERENCE_RULE_NAME"]) == "DISABLED"


def test_well_formed_breaker_payloads_move_the_state(world, s3, wired):
    """model_promoted with a real version, a healthy boolean report: each one transition."""
    _, invokes = wired
    _set_state(s3, world, "OPEN")
    breaker = _handler("breaker")

    first = breaker({"action": "model_promoted", "version": "v0001"}, None)
    second = breaker(
        {"action": "probation_report", "batch_id": "b1", "healthy": True, "breaches": []}, None
    )

    assert first["changed"] and first["state"]["state"] == "HALF_OPEN"
    assert second["changed"] and second["state"]["probation"]["healthy"] == ["b1"]
    assert [(env, p["action"]) for env, p in invokes.calls] == [
        ("INFER_FUNCTION_NAME", "score_held")
    ]


def test_well_formed_infer_and_monitor_payloads_score_and_report(world, s3):
    [scored] = _handler("infer")({"batch_id": "waiting-1"}, None)["results"]
    [monitored] = _handler("monitor")({"batch_id": "waiting-1"}, None)["results"]
    held = _handler("infer")({"action": "score_held", "probation": False}, None)

    assert (scored["status"], scored["rows"]) == ("published", SAMPLE_ROWS)
    assert monitored["status"] == "monitored"
    report = get_json(s3, world.monitoring, "reports/waiting-1.json")
    assert report["quality"]["row_count"] == SAMPLE_ROWS
    assert [(r["batch_id"], r["status"]) for r in held["results"]] == [("held-1", "published")]
    assert current_keys(s3, world.predictions, "predictions/") == [
        "predictions/held-1/_SUCCESS",
        "predictions/held-1/predictions.csv",
        "predictions/waiting-1/_SUCCESS",
        "predictions/waiting-1/predictions.csv",
    ]
