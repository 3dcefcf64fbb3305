"""A batch whose inputs drifted waits for its first labels (moto_server): a campaign is
confirmed by them and published by the next rescan; a corrupted lead time leaves rows past
check-out unlabelled, and the batch stays held for corrected inputs, out of training too."""

import datetime as dt
import io
import json

import boto3

from data.generate import label_increment, make_batch
from tests.integration.helpers import SCHEDULED, keys, upload_batch
from tests.integration.test_sharding import _run_shards, _score

DAY = "2026-01-05"


def _csv(frame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def _arrive(s3, buckets, batch_id, batch) -> dict:
    from handlers import infer

    files = {"bookings": _csv(batch.bookings), "hotels": _csv(batch.hotels)}
    upload_batch(s3, buckets.data, batch_id, files)
    [result] = infer.handler({"batch_id": batch_id}, None)["results"]
    return result


def _first_labels(s3, buckets, batch_id, batch, event=None) -> dict:
    """The increment a day after arrival (label age 0: what became known through the batch's
    day), and the monitor's run on it (``event``: the one it gets, its own by default)."""
    from handlers import monitor

    today = dt.datetime.now(dt.UTC).date().isoformat()
    body = _csv(label_increment(batch, DAY))
    s3.put_object(Bucket=buckets.data, Key=f"labels/{batch_id}/{today}.csv", Body=body)
    results = monitor.handler(event or {"batch_id": batch_id}, None)["results"]
    [result] = [r for r in results if r["batch_id"] == batch_id]
    return result


def _note(s3, buckets, batch_id) -> dict:
    body = s3.get_object(Bucket=buckets.data, Key=f"held/{batch_id}/held.json")["Body"].read()
    return json.loads(body)


def _state(s3, buckets) -> str:
    body = s3.get_object(Bucket=buckets.monitoring, Key="breaker/state.json")["Body"].read()
    return json.loads(body)["state"]


def _clean_history(s3, buckets, batches=10, due=6) -> None:
    """Ten earlier batches whose first labels covered every row due (as the demo's do)."""
    entries = [
        {
            "batch_id": f"earlier-{i}",
            "model_version": "v0001",
            "published_at": f"2026-01-0{i % 4 + 1}T00:00:0{i}+00:00",
            "levels": {},
            "due": {"age0": [due, 0]},
        }
        for i in range(batches)
    ]
    window = {"format": "mlcycle.window/1", "accepted_since": None, "accepted_by": None}
    body = json.dumps({**window, "entries": entries}).encode()
    s3.put_object(Bucket=buckets.monitoring, Key="limits/booking_status/window.json", Body=body)


def test_a_campaign_waits_for_its_first_labels_then_publishes(trained, buckets, s3, breaker_calls):
    from handlers import infer

    batch = make_batch(DAY, 1500, seed=4, incident="benign_shift")
    held = _arrive(s3, buckets, "campaign", batch)

    assert held["status"] == "held" and held["awaiting_labels"], held
    assert "FeatureDrift" in held["gate"]["warnings"] and held["gate"]["trips"] == []
    assert breaker_calls == [] and _state(s3, buckets) == "CLOSED"  # nothing tripped
    assert keys(s3, buckets.predictions, "predictions/campaign/") == []
    assert _note(s3, buckets, "campaign")["awaiting_labels"]["rows"] == 1500

    # The labels' S3 event is lost: the monitor's scheduled sweep finds the waiting batch.
    judged = _first_labels(s3, buckets, "campaign", batch, SCHEDULED)
    assert judged["status"] == "confirmed", judged
    verdict = judged["verdict"]
    assert verdict["age_days"] == 0 and verdict["due"] > 50 and verdict["overdue"] == 0
    assert _note(s3, buckets, "campaign")["confirmed"]["overdue"] == 0

    published = {r["batch_id"]: r for r in infer.handler(SCHEDULED, None)["results"]}
    assert published["campaign"]["status"] == "published", published
    manifest = json.loads(
        s3.get_object(Bucket=buckets.predictions, Key="predictions/campaign/_SUCCESS")[
            "Body"
        ].read()
    )
    assert manifest["input_prefix"] == "held/campaign/" and manifest["rows"] == 1500
    assert "FeatureDrift" in manifest["warnings"]

    # Published, its labels are judged as any batch's, and its due rows teach the window.
    from handlers import monitor

    [monitored] = monitor.handler({"batch_id": "campaign"}, None)["results"]
    assert monitored["status"] == "monitored" and monitored["labels"], monitored
    assert monitored["trips"] == [] and "FeatureDrift" in monitored["warnings"]
    window = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key="limits/booking_status/window.json")[
            "Body"
        ].read()
    )
    [entry] = [e for e in window["entries"] if e["batch_id"] == "campaign"]
    assert entry["due"] == {"age0": [verdict["due"], 0]}


def test_a_corrupted_lead_time_is_held_by_its_overdue_labels(trained, buckets, s3, breaker_calls):
    from handlers import infer
    from mlcycle.integrity import integrity_trips
    from mlcycle.objectstore import ObjectStore

    batch = make_batch(DAY, 1500, seed=4, incident="harmful_shift")
    held = _arrive(s3, buckets, "corrupted", batch)
    assert held["status"] == "held" and held["awaiting_labels"], held

    _clean_history(s3, buckets)
    judged = _first_labels(s3, buckets, "corrupted", batch)
    assert judged["status"] == "held" and judged["breaches"][0]["rule"] == "LabelsOverdue"
    verdict = judged["verdict"]
    assert verdict["overdue"] >= 5 and verdict["overdue"] / verdict["due"] > 0.3, verdict
    assert verdict["normal_share"] < 0.01 and verdict["chance"] < 1e-6
    note = _note(s3, buckets, "corrupted")
    assert [b["rule"] for b in note["breaches"]] == ["LabelsOverdue"] and "confirmed" not in note
    assert (
        note["reason"].startswith("LabelsOverdue: ")
        and "held for corrected inputs" in note["reason"]
    )

    # Never published: not by the rescan, not by the hold limit's fallback; nor trained on.
    results = infer.handler(SCHEDULED, None)["results"]
    assert all(r.get("batch_id") != "corrupted" for r in results), results
    assert keys(s3, buckets.predictions, "predictions/corrupted/") == []
    trips = integrity_trips(ObjectStore(boto3.client("s3")), buckets, "corrupted", True)
    assert trips == {"held batch": ["LabelsOverdue"]}
    assert breaker_calls == [] and _state(s3, buckets) == "CLOSED"


def test_before_any_history_the_due_date_is_taken_at_its_word(trained, buckets, s3, breaker_calls):
    """No batch has measured the label feed yet: the config's due column says labels are known
    by then, so the normal share is about 1% and the corrupted batch is held all the same."""
    batch = make_batch(DAY, 1500, seed=4, incident="harmful_shift")
    _arrive(s3, buckets, "early-days", batch)
    judged = _first_labels(s3, buckets, "early-days", batch)
    assert judged["status"] == "held", judged
    assert judged["verdict"]["history_due"] == 0 and judged["verdict"]["normal_share"] == 0.01


def test_a_sharded_batch_whose_inputs_drifted_waits_too(
    trained, buckets, s3, monkeypatch, self_invokes, breaker_calls
):
    batch = make_batch(DAY, 1500, seed=4, incident="benign_shift")
    files = {"bookings": _csv(batch.bookings), "hotels": _csv(batch.hotels)}
    upload_batch(s3, buckets.data, "big-campaign", files)
    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 3))
    planned = _score("big-campaign", buckets)
    assert planned["status"] == "sharded", planned
    results = _run_shards(self_invokes)
    last = results[-1]
    assert last["status"] == "held" and last["awaiting_labels"], last
    assert keys(s3, buckets.predictions, "predictions/big-campaign/_SUCCESS") == []
    assert not [
        k for k in keys(s3, buckets.predictions, "predictions/big-campaign/") if "part" in k
    ]
    assert _note(s3, buckets, "big-campaign")["awaiting_labels"]["rows"] == 1500
    assert breaker_calls == []


def test_a_batch_waiting_for_its_first_labels_is_not_put_on_probation(
    trained, buckets, s3, breaker_calls
):
    """A recovery's probation would publish it on the close without its labels' verdict: it
    keeps waiting, and once they confirm it the rescan publishes it (the breaker CLOSED)."""
    from handlers import infer
    from mlcycle.breaker.gate import score_held
    from mlcycle.breaker.machine import Breaker
    from mlcycle.config import load_config
    from mlcycle.objectstore import ObjectStore
    from mlcycle.plugin import load_plugin
    from tests.conftest import MODEL_DIR
    from tests.integration.conftest import _NoEffects

    batch = make_batch(DAY, 1500, seed=4, incident="benign_shift")
    assert _arrive(s3, buckets, "campaign", batch)["awaiting_labels"]
    store = ObjectStore(boto3.client("s3"))
    breaker = Breaker(store, buckets.monitoring, _NoEffects())
    breaker.trip({"reason": "test"}, "test")
    breaker.model_promoted("v0001", "test")
    assert _state(s3, buckets) == "HALF_OPEN"
    cfg = load_config(MODEL_DIR / "model_config.yml")
    assert score_held(cfg, load_plugin(cfg, MODEL_DIR), store, buckets, probation=True) == []
    assert keys(s3, buckets.predictions, "probation/campaign/") == []

    # Confirmed while HALF_OPEN: the rescan does not publish it until the breaker closes.
    assert _first_labels(s3, buckets, "campaign", batch)["status"] == "confirmed"
    assert all(r.get("batch_id") != "campaign" for r in infer.handler(SCHEDULED, None)["results"])
    breaker.force("CLOSED", "probation over", "test")
    published = {r.get("batch_id"): r for r in infer.handler(SCHEDULED, None)["results"]}
    assert published["campaign"]["status"] == "published", published


def test_a_drifted_batch_held_while_the_breaker_was_open_waits_for_its_labels_on_the_close(
    trained, buckets, s3, breaker_calls
):
    """Held by the open breaker before anyone judged its drift; scored on the close, it waits
    for its labels (already in: the monitor's sweep judges them) like a new arrival."""
    from handlers import infer
    from mlcycle.breaker.gate import score_held
    from mlcycle.breaker.machine import Breaker
    from mlcycle.config import load_config
    from mlcycle.objectstore import ObjectStore
    from mlcycle.plugin import load_plugin
    from tests.conftest import MODEL_DIR
    from tests.integration.conftest import _NoEffects

    store = ObjectStore(boto3.client("s3"))
    breaker = Breaker(store, buckets.monitoring, _NoEffects())
    breaker.trip({"reason": "test"}, "test")
    batch = make_batch(DAY, 1500, seed=4, incident="harmful_shift")
    assert _arrive(s3, buckets, "while-open", batch)["status"] == "held"
    assert "awaiting_labels" not in _note(s3, buckets, "while-open")
    breaker.force("CLOSED", "incident over", "test")
    cfg = load_config(MODEL_DIR / "model_config.yml")
    [scored] = score_held(cfg, load_plugin(cfg, MODEL_DIR), store, buckets, probation=False)
    assert scored["status"] == "held" and scored["awaiting_labels"], scored
    assert _note(s3, buckets, "while-open")["awaiting_labels"]["rows"] == 1500
    assert keys(s3, buckets.predictions, "predictions/while-open/") == []

    _clean_history(s3, buckets)
    judged = _first_labels(s3, buckets, "while-open", batch, SCHEDULED)
    assert judged["status"] == "held" and judged["breaches"][0]["rule"] == "LabelsOverdue"
    assert all(r.get("batch_id") != "while-open" for r in infer.handler(SCHEDULED, None)["results"])


def test_a_confirmed_batch_whose_rescore_trips_an_integrity_rule_stays_held_with_the_trip(
    trained, buckets, s3, breaker_calls
):
    """Its labels confirmed it, but its hotels file lost most rows since (say, a bad copy):
    the rescan's gate holds it, and its note says why, so it is held for corrected inputs,
    kept out of training, and not re-scored by every later rescan."""
    from handlers import infer
    from mlcycle.integrity import integrity_trips
    from mlcycle.objectstore import ObjectStore

    batch = make_batch(DAY, 1500, seed=4, incident="benign_shift")
    assert _arrive(s3, buckets, "campaign", batch)["awaiting_labels"]
    assert _first_labels(s3, buckets, "campaign", batch)["status"] == "confirmed"
    s3.put_object(
        Bucket=buckets.data, Key="held/campaign/hotels.csv", Body=_csv(batch.hotels.head(50))
    )

    [rescored] = [
        r for r in infer.handler(SCHEDULED, None)["results"] if r.get("batch_id") == "campaign"
    ]
    assert rescored["status"] == "held" and "JoinCoverage" in rescored["gate"]["trips"], rescored
    note = _note(s3, buckets, "campaign")
    assert "JoinCoverage" in note["gate"]["trips"] and note["confirmed"]
    assert note["reason"].startswith("gate tripped before publication: JoinCoverage")
    trips = integrity_trips(ObjectStore(boto3.client("s3")), buckets, "campaign", True)
    assert "JoinCoverage" in trips["gate hold"], trips
    assert [p["rules"] for _, p in breaker_calls] == [rescored["gate"]["trips"]]

    again = infer.handler(SCHEDULED, None)["results"]
    assert all(r.get("batch_id") != "campaign" for r in again), again
    assert len(breaker_calls) == 1 and keys(s3, buckets.predictions, "predictions/campaign/") == []
