"""Family "events": S3 delivers at least once and concurrently, uploads change, alarms repeat.

Each case drives the real handlers against moto_server with events shaped as AWS sends
them and asserts the outcome from the buckets: one publication per batch, a changed
re-upload refused into quarantine with its reason, the monitor reading the revision that
was scored and running once per triggering object version, the breaker tripping once.
"""

from __future__ import annotations

import json

import boto3
import pytest

from mlcycle.errors import EventError
from tests.integration.helpers import SAMPLE, sample_batch_files
from tests.reliability.evidence import (
    SAMPLE_ROWS,
    alarm_event,
    bad_files,
    current_keys,
    get_json,
    new_batch_id,
    publish,
    record_invokes,
    rule_state,
    run_together,
    s3_event,
    s3_record,
    snapshot,
    snapshot_all,
    upload_sample,
    version_docs,
    versions,
    wire_functions,
)


@pytest.fixture
def s3(deployed):
    return boto3.client("s3")


def _infer(event):
    from handlers import infer

    return infer.handler(event, None)


def _monitor(event):
    from handlers import monitor

    return monitor.handler(event, None)


def _published_once(s3, deployed, batch_id):
    """Exactly one version of predictions.csv and of _SUCCESS; no lease left behind."""
    assert len(versions(s3, deployed.predictions, f"predictions/{batch_id}/predictions.csv")) == 1
    assert len(versions(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS")) == 1
    assert current_keys(s3, deployed.predictions, f"predictions/{batch_id}/") == [
        f"predictions/{batch_id}/_SUCCESS",
        f"predictions/{batch_id}/predictions.csv",
    ]


def open_sample_labels() -> bytes:
    """The sample batch's late ground truth (hotel_id, status for its 500 rows)."""
    return (SAMPLE / "labels" / "2026-01-02.csv").read_bytes()


def _shorter_bookings(rows: int) -> dict[str, bytes]:
    files = sample_batch_files()
    lines = files["bookings"].decode().splitlines()
    return {**files, "bookings": ("\n".join(lines[: rows + 1]) + "\n").encode()}


# --- infer: duplicate deliveries ---------------------------------------------------------


def test_redelivered_event_after_publication_is_already_published_and_writes_nothing(deployed, s3):
    batch_id = new_batch_id("redelivered")
    event = upload_sample(s3, deployed, batch_id)
    [first] = _infer(event)["results"]
    assert first["status"] == "published" and first["rows"] == SAMPLE_ROWS
    before = snapshot_all(s3, deployed)

    [again] = _infer(event)["results"]

    assert (again["status"], again["batch_id"]) == ("already_published", batch_id)
    assert again["model_version"] == "v0001"
    assert snapshot_all(s3, deployed) == before
    _published_once(s3, deployed, batch_id)


def test_concurrent_duplicate_deliveries_publish_exactly_once(deployed, s3):
    batch_id = new_batch_id("concurrent")
    event = upload_sample(s3, deployed, batch_id)

    outcomes = run_together(4, lambda: _infer(event))

    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    statuses = sorted(o["results"][0]["status"] for o in outcomes)
    assert statuses.count("published") == 1, statuses
    assert set(statuses) - {"published"} <= {"in_progress", "already_published"}, statuses
    _published_once(s3, deployed, batch_id)
    manifest = get_json(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS")
    assert manifest["rows"] == SAMPLE_ROWS
    # The inputs stay where they were: nothing lost, nothing moved by the losers.
    assert current_keys(s3, deployed.data, f"incoming/{batch_id}/") == [
        f"incoming/{batch_id}/bookings.csv",
        f"incoming/{batch_id}/hotels.csv",
    ]


def test_concurrent_pair_on_a_bad_batch_quarantines_it_once(deployed, s3):
    batch_id = new_batch_id("bad-pair")
    event = upload_sample(s3, deployed, batch_id, bad_files())

    outcomes = run_together(2, lambda: _infer(event))

    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    results = [o["results"][0] for o in outcomes]
    statuses = [r["status"] for r in results]
    assert "quarantined" in statuses, statuses
    # The loser found the lease taken (in_progress) or, arriving later, the inputs already
    # gone from incoming/ (waiting; inputs_changed once past the completeness check).
    assert set(statuses) <= {"quarantined", "in_progress", "waiting", "inputs_changed"}, statuses
    folder = f"quarantine/{batch_id}/"
    assert current_keys(s3, deployed.data, folder) == [
        f"{folder}bookings.csv",
        f"{folder}hotels.csv",
        f"{folder}reason.json",
    ]
    for name in ("bookings.csv", "hotels.csv"):
        assert len(versions(s3, deployed.data, folder + name)) == 1, name  # moved once
    # One reason, never replaced by the other delivery's (however often the note is written).
    reasons = [doc["reason"] for doc in version_docs(s3, deployed.data, f"{folder}reason.json")]
    assert reasons and all(r == reasons[0] for r in reasons), reasons
    assert (reasons[0]["rule"], reasons[0]["column"]) == ("required column", "check_in")
    kept = s3.get_object(Bucket=deployed.data, Key=f"{folder}bookings.csv")["Body"].read()
    assert kept == bad_files()["bookings"]  # nothing lost: the rejected input, byte for byte
    assert current_keys(s3, deployed.data, f"incoming/{batch_id}/") == []
    assert versions(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS") == []
    assert versions(s3, deployed.predictions, f"predictions/{batch_id}/predictions.csv") == []


# --- infer: re-uploads -------------------------------------------------------------------


def test_changed_reupload_after_publication_is_quarantined_with_reason(deployed, s3):
    batch_id = new_batch_id("reupload")
    manifest = publish(s3, deployed, batch_id)
    published = {
        key: versions(s3, deployed.predictions, f"predictions/{batch_id}/{key}")
        for key in ("predictions.csv", "_SUCCESS")
    }
    changed = _shorter_bookings(100)
    s3.put_object(
        Bucket=deployed.data, Key=f"incoming/{batch_id}/bookings.csv", Body=changed["bookings"]
    )

    [result] = _infer(s3_event(s3, deployed.data, f"incoming/{batch_id}/bookings.csv"))["results"]

    assert result["status"] == "quarantined"
    assert result["reason"]["rule"] == "one revision per published batch"
    [folder] = {f.rsplit("/", 1)[0] + "/" for f in result["files"]}
    assert folder.startswith(f"quarantine/{batch_id}/reupload-")
    assert current_keys(s3, deployed.data, folder) == [
        f"{folder}bookings.csv",
        f"{folder}hotels.csv",
        f"{folder}reason.json",
    ]
    reason = get_json(s3, deployed.data, f"{folder}reason.json")
    assert reason["reason"]["rule"] == "one revision per published batch"
    assert "v0001" in reason["reason"]["detail"]
    # Nothing lost: the re-upload is kept byte for byte.
    kept = s3.get_object(Bucket=deployed.data, Key=f"{folder}bookings.csv")["Body"].read()
    assert kept == changed["bookings"]
    # Nothing re-published: the same single versions, the same manifest.
    for key, before in published.items():
        assert versions(s3, deployed.predictions, f"predictions/{batch_id}/{key}") == before
    assert get_json(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS") == manifest


def test_identical_reupload_after_publication_is_already_published(deployed, s3):
    batch_id = new_batch_id("same-again")
    publish(s3, deployed, batch_id)
    before = snapshot(s3, deployed.predictions)
    s3.put_object(
        Bucket=deployed.data,
        Key=f"incoming/{batch_id}/bookings.csv",
        Body=sample_batch_files()["bookings"],
    )
    assert len(versions(s3, deployed.data, f"incoming/{batch_id}/bookings.csv")) == 2

    [result] = _infer(s3_event(s3, deployed.data, f"incoming/{batch_id}/bookings.csv"))["results"]

    assert result["status"] == "already_published"
    assert snapshot(s3, deployed.predictions) == before
    assert current_keys(s3, deployed.data, "quarantine/") == []


def test_manifest_records_every_input_with_etag_and_version_id(deployed, s3):
    batch_id = new_batch_id("fingerprint")
    manifest = publish(s3, deployed, batch_id)

    assert set(manifest["inputs"]) == {"bookings", "hotels"}
    for source, recorded in manifest["inputs"].items():
        key = f"incoming/{batch_id}/{source}.csv"
        head = s3.head_object(Bucket=deployed.data, Key=key)
        assert recorded == {"key": key, "etag": head["ETag"], "version_id": head["VersionId"]}


def test_url_encoded_key_in_the_event_is_decoded(deployed, s3):
    batch_id = new_batch_id("day=2026-01-02")
    event = upload_sample(s3, deployed, batch_id)
    assert "%3D" in event["Records"][0]["s3"]["object"]["key"]

    [result] = _infer(event)["results"]

    assert result["status"] == "published" and result["batch_id"] == batch_id
    _published_once(s3, deployed, batch_id)


# --- monitor: the published revision, once per triggering object version --------------------


def test_monitor_reads_the_published_revision_while_a_changed_upload_waits(deployed, s3):
    batch_id = new_batch_id("monitor-pinned")
    publish(s3, deployed, batch_id)
    s3.put_object(
        Bucket=deployed.data,
        Key=f"incoming/{batch_id}/bookings.csv",
        Body=_shorter_bookings(100)["bookings"],
    )

    [result] = _monitor({"batch_id": batch_id})["results"]

    assert result["status"] == "monitored"
    report = get_json(s3, deployed.monitoring, f"reports/{batch_id}.json")
    assert report["quality"]["row_count"] == SAMPLE_ROWS


def test_monitor_reads_the_published_revision_after_the_reupload_was_quarantined(deployed, s3):
    batch_id = new_batch_id("monitor-moved")
    publish(s3, deployed, batch_id)
    s3.put_object(
        Bucket=deployed.data,
        Key=f"incoming/{batch_id}/bookings.csv",
        Body=_shorter_bookings(100)["bookings"],
    )
    [refused] = _infer(s3_event(s3, deployed.data, f"incoming/{batch_id}/bookings.csv"))["results"]
    assert refused["status"] == "quarantined"
    assert current_keys(s3, deployed.data, f"incoming/{batch_id}/") == []

    [result] = _monitor({"batch_id": batch_id})["results"]

    assert result["status"] == "monitored"
    report = get_json(s3, deployed.monitoring, f"reports/{batch_id}.json")
    assert report["quality"]["row_count"] == SAMPLE_ROWS


def test_redelivered_success_event_is_monitored_once(deployed, s3):
    batch_id = new_batch_id("success-twice")
    publish(s3, deployed, batch_id)
    event = s3_event(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS")

    [first] = _monitor(event)["results"]
    [second] = _monitor(event)["results"]

    assert first["status"] == "monitored" and first["labels"] is False
    assert (second["status"], second["batch_id"]) == ("duplicate_delivery", batch_id)
    assert len(versions(s3, deployed.monitoring, f"reports/{batch_id}.json")) == 1


def test_concurrent_success_deliveries_run_the_monitor_once(deployed, s3):
    batch_id = new_batch_id("success-racing")
    publish(s3, deployed, batch_id)
    event = s3_event(s3, deployed.predictions, f"predictions/{batch_id}/_SUCCESS")

    outcomes = run_together(3, lambda: _monitor(event))

    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    statuses = sorted(o["results"][0]["status"] for o in outcomes)
    assert statuses == ["duplicate_delivery", "duplicate_delivery", "monitored"]
    assert len(versions(s3, deployed.monitoring, f"reports/{batch_id}.json")) == 1


def test_redelivered_labels_event_is_a_duplicate_delivery(deployed, s3):
    batch_id = new_batch_id("labels-twice")
    publish(s3, deployed, batch_id)
    s3.put_object(Bucket=deployed.data, Key=f"labels/{batch_id}.csv", Body=open_sample_labels())
    event = s3_event(s3, deployed.data, f"labels/{batch_id}.csv")

    [first] = _monitor(event)["results"]
    [second] = _monitor(event)["results"]

    assert first["status"] == "monitored" and first["labels"] is True
    assert "RealisedAccuracy" in first["metrics"]
    assert (second["status"], second["batch_id"]) == ("duplicate_delivery", batch_id)
    assert len(versions(s3, deployed.monitoring, f"reports/{batch_id}.json")) == 1


def test_a_new_labels_version_runs_the_monitor_again(deployed, s3):
    batch_id = new_batch_id("labels-new")
    publish(s3, deployed, batch_id)
    labels = open_sample_labels()
    s3.put_object(Bucket=deployed.data, Key=f"labels/{batch_id}.csv", Body=labels)
    first_event = s3_event(s3, deployed.data, f"labels/{batch_id}.csv")
    [first] = _monitor(first_event)["results"]
    # Corrected labels: the first half only (a partial re-delivery by the labelling team).
    lines = labels.decode().splitlines()
    corrected = ("\n".join(lines[: len(lines) // 2]) + "\n").encode()
    s3.put_object(Bucket=deployed.data, Key=f"labels/{batch_id}.csv", Body=corrected)
    second_event = s3_event(s3, deployed.data, f"labels/{batch_id}.csv")

    [second] = _monitor(second_event)["results"]
    [replayed] = _monitor(first_event)["results"]

    assert first["status"] == second["status"] == "monitored"
    report = get_json(s3, deployed.monitoring, f"reports/{batch_id}.json")
    coverage = report["performance"]["realised"]["label_coverage"]
    assert coverage == pytest.approx((len(lines) // 2 - 1) / SAMPLE_ROWS)
    assert (replayed["status"], replayed["batch_id"]) == ("duplicate_delivery", batch_id)
    assert len(versions(s3, deployed.monitoring, f"reports/{batch_id}.json")) == 2


# --- keys and alarms a function does not act on -------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["labels/2026-01-02.csv", "training/bookings/bookings.csv", "held/b1/held.json"],
    ids=["labels", "training", "held"],
)
def test_infer_ignores_s3_events_for_keys_outside_incoming(deployed, s3, key):
    s3.put_object(Bucket=deployed.data, Key=key, Body=b"hotel_id,status\n1,booked\n")
    before = snapshot_all(s3, deployed)

    result = _infer(s3_event(s3, deployed.data, key))

    assert result["results"] == [] and result["counts"] == {}
    assert snapshot_all(s3, deployed) == before


@pytest.mark.parametrize(
    "key",
    ["predictions/b1/predictions.csv", "probation/b1/predictions.csv", "reports/b1.json"],
    ids=["predictions-csv", "probation-csv", "report"],
)
def test_monitor_ignores_s3_events_for_keys_it_does_not_handle(deployed, s3, key):
    before = snapshot_all(s3, deployed)
    event = {"Records": [s3_record(deployed.predictions, key, "v1", '"e"')]}

    result = _monitor(event)

    assert result == {"monitored": 0, "results": []}
    assert snapshot_all(s3, deployed) == before


@pytest.fixture
def wired(deployed, monkeypatch):
    from mlcycle.breaker import effects

    names = wire_functions(monkeypatch)
    return names, record_invokes(monkeypatch, effects)


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_alarm_notification_not_in_alarm_state_is_ignored(deployed, s3, wired, state):
    from handlers import breaker

    names, invokes = wired
    before = snapshot(s3, deployed.monitoring)

    result = breaker.handler(alarm_event("mlcycle-JoinCoverage", state), None)

    assert result == {"results": []}
    assert snapshot(s3, deployed.monitoring) == before
    assert rule_state(names["INFERENCE_RULE_NAME"]) == "ENABLED"
    assert invokes.calls == []


def test_alarm_trips_the_breaker_once_and_a_second_changes_nothing(deployed, s3, wired):
    from handlers import breaker

    names, invokes = wired
    event = alarm_event("mlcycle-JoinCoverage", "ALARM")

    first = breaker.handler(event, None)
    state = s3.head_object(Bucket=deployed.monitoring, Key="breaker/state.json")["ETag"]
    second = breaker.handler(event, None)

    [tripped], [again] = first["results"], second["results"]
    assert (tripped["changed"], tripped["state"]) == (True, "OPEN")
    assert "retrain requested" in tripped["effects"]
    assert (again["changed"], again["state"], again["effects"]) == (False, "OPEN", [])
    assert s3.head_object(Bucket=deployed.monitoring, Key="breaker/state.json")["ETag"] == state
    log = s3.get_object(Bucket=deployed.monitoring, Key="breaker/events.jsonl")["Body"].read()
    [line] = [json.loads(x) for x in log.decode().splitlines()]
    assert (line["from"], line["to"]) == ("CLOSED", "OPEN")
    assert line["actor"] == "alarm:mlcycle-JoinCoverage"
    assert line["cause"]["metric"] == "JoinCoverage"
    assert rule_state(names["INFERENCE_RULE_NAME"]) == "DISABLED"
    assert [env for env, _ in invokes.calls] == ["TRAIN_FUNCTION_NAME"]
    assert invokes.calls[0][1]["recovery"] is True


# --- events of the wrong shape ------------------------------------------------------------

S3_KEY_NOT_TEXT = {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": 7}}}]}
S3_NO_OBJECT = {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]}
S3_MIXED = {
    "Records": [
        {"eventSource": "aws:s3", "s3": {"object": {"key": "incoming/b1/bookings.csv"}}},
        {"eventSource": "aws:sqs", "body": "{}"},
    ]
}
SNS_NOT_JSON = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "ALARM!"}}]}
SNS_NOT_ALARM = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": '{"Type": "x"}'}}]}
SNS_NO_MESSAGE = {"Records": [{"EventSource": "aws:sns", "Sns": {}}]}
SCHEDULE_HALF = {"source": "aws.events", "detail": {}}

WRONG_SHAPES = [
    pytest.param("infer", S3_KEY_NOT_TEXT, "Records[0].s3.object.key", id="infer-s3-key-number"),
    pytest.param("infer", S3_NO_OBJECT, "Records[0].s3.object", id="infer-s3-no-object"),
    pytest.param("infer", S3_MIXED, None, id="infer-s3-mixed-sources"),
    pytest.param("infer", {"Records": []}, None, id="infer-no-records"),
    pytest.param("infer", SCHEDULE_HALF, None, id="infer-schedule-without-detail-type"),
    pytest.param("monitor", S3_KEY_NOT_TEXT, "Records[0].s3.object.key", id="monitor-s3-key"),
    pytest.param("monitor", {"Records": "x"}, None, id="monitor-records-not-a-list"),
    pytest.param("breaker", SNS_NOT_JSON, "Records[0].Sns.Message", id="breaker-sns-not-json"),
    pytest.param("breaker", SNS_NOT_ALARM, "Records[0].Sns.Message", id="breaker-sns-not-alarm"),
    pytest.param("breaker", SNS_NO_MESSAGE, "Records[0].Sns.Message", id="breaker-sns-empty"),
    pytest.param("breaker", S3_MIXED, None, id="breaker-s3-event"),
    pytest.param(
        "infer",
        {"Records": [{"eventSource": "aws:s3", "s3": "incoming/b1/bookings.csv"}]},
        "Records[0].s3",
        id="infer-s3-section-not-an-object",
    ),
    pytest.param(
        "breaker",
        {"Records": [{"EventSource": "aws:sns", "Sns": "ALARM"}]},
        "Records[0].Sns",
        id="breaker-sns-section-not-an-object",
    ),
]


@pytest.mark.parametrize(("function", "event", "field"), WRONG_SHAPES)
def test_events_of_the_wrong_shape_are_refused(deployed, s3, function, event, field):
    import importlib

    handler = importlib.import_module(f"handlers.{function}").handler
    before = snapshot_all(s3, deployed)

    with pytest.raises(EventError) as refused:
        handler(event, None)

    if field is None:
        assert refused.value.field is None
    else:
        assert refused.value.field.startswith(field) and field in str(refused.value)
    assert snapshot_all(s3, deployed) == before
