"""Held batches on a real moto_server, with the real breaker function behind infer's gate: an
outage is held for corrected inputs (the breaker stays closed), the hold limit's fallback
(page, or publish with the champion and a flag, never for broken inputs or an unknown state),
and an operator's release through the gate or over it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import boto3
import pytest

from data.generate import make_batch
from tests.integration.helpers import keys, refuting_report, upload_batch


def _upload(s3, buckets, batch_id, incident=None, day="2026-01-05"):
    batch = make_batch(day, 1500, seed=4, incident=incident)
    files = {"bookings": _csv(batch.bookings), "hotels": _csv(batch.hotels)}
    upload_batch(s3, buckets.data, batch_id, files)


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode()


def _json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _log(s3, buckets) -> list[dict]:
    body = s3.get_object(Bucket=buckets.monitoring, Key="breaker/events.jsonl")["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def _infer(payload):
    from handlers import infer

    return infer.handler(payload, None)["results"]


def _breaker(payload):
    from handlers import breaker

    return breaker.handler({"reason": "test", "actor": "alice", **payload}, None)


def _held_outage_and_clean(s3, buckets):
    """An outage held by the gate, then a clean batch held because an operator opened."""
    _upload(s3, buckets, "outage", "source_outage")
    [outage] = _infer({"batch_id": "outage"})
    assert outage["status"] == "held" and "JoinCoverage" in outage["gate"]["trips"], outage
    _breaker({"action": "open"})
    _upload(s3, buckets, "clean", day="2026-01-06")
    assert _infer({"batch_id": "clean"})[0]["status"] == "held"


def _config(**policy):
    from handlers import runtime

    cfg = runtime.config()
    return replace(cfg, breaker=replace(cfg.breaker, **policy))


def _sweep(cfg, buckets, hours=25):
    from handlers import runtime
    from mlcycle.breaker import holds
    from mlcycle.clock import now

    at = now() + dt.timedelta(hours=hours)
    return {
        r["batch_id"]: r for r in holds.sweep(cfg, runtime.plugin(), runtime.store(), buckets, at)
    }


def _held_too_long():
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="MLCycle/booking_status",
        MetricName="HeldTooLong",
        Dimensions=[{"Name": "ModelName", "Value": "booking_status"}],
        StartTime=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    return max((p["Maximum"] for p in stats["Datapoints"]), default=None)


def test_an_outage_is_held_for_corrected_inputs_and_the_next_batch_publishes(
    breaker_asks, buckets, s3
):
    _upload(s3, buckets, "outage", "source_outage")
    [outage] = _infer({"batch_id": "outage"})

    assert outage["status"] == "held" and outage["breaker"]["state"] == "CLOSED"
    assert _json(s3, buckets.monitoring, "breaker/state.json")["state"] == "CLOSED"
    [line] = _log(s3, buckets)
    assert (line["from"], line["to"], line["actor"]) == ("CLOSED", "CLOSED", "gate")
    assert line["cause"]["action"] == "held for corrected inputs"
    assert line["cause"]["batch_id"] == "outage" and "JoinCoverage" in line["cause"]["rules"]
    assert breaker_asks == []  # no retrain: the model is fine
    _upload(s3, buckets, "next", day="2026-01-06")
    [published] = _infer({"batch_id": "next"})
    assert published["status"] == "published" and published["model_version"] == "v0001"


def test_past_its_limit_a_held_batch_pages_by_default_and_an_extension_stops_it(
    breaker_asks, buckets, s3
):
    _held_outage_and_clean(s3, buckets)
    cfg = _config()
    assert _sweep(cfg, buckets, hours=23) == {}  # within the 24 h limit

    swept = _sweep(cfg, buckets)

    assert {b: r["status"] for b, r in swept.items()} == {
        "outage": "held_too_long",
        "clean": "held_too_long",
    }
    assert swept["clean"]["reason"] == "breaker.hold_fallback is page"
    assert _held_too_long() == 2.0
    assert keys(s3, buckets.predictions, "predictions/") == []

    extended = _breaker({"action": "extend_hold", "batch_id": "clean", "hours": 48})
    assert extended["event"]["cause"]["action"] == "extend_hold"
    assert list(_sweep(cfg, buckets)) == ["outage"]


def test_the_publish_fallback_uses_the_champion_and_never_an_integrity_hold(
    breaker_asks, buckets, s3
):
    from handlers import runtime
    from mlcycle import events
    from mlcycle.breaker import holds
    from mlcycle.inference import handle

    _held_outage_and_clean(s3, buckets)
    cfg = _config(hold_fallback="publish")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(holds, "now", lambda: later)
        rescan = handle(cfg, runtime.plugin(), runtime.store(), buckets, events.Rescan())
    swept = {r["batch_id"]: r for r in rescan["results"]}

    assert swept["clean"]["status"] == "published", swept["clean"]
    manifest = _json(s3, buckets.predictions, "predictions/clean/_SUCCESS")
    assert (manifest["model_version"], manifest["rows"], manifest["probation"]) == (
        "v0001",
        1500,
        False,
    )
    flag = manifest["fallback"]
    assert flag["policy"] == "publish" and flag["gate_trips"] == []
    assert flag["reason"] == "held past its limit (24 h, breaker.max_hold_hours)"
    assert "predictions/clean/predictions.csv" in keys(s3, buckets.predictions, "predictions/")
    assert swept["outage"]["status"] == "held_too_long"
    assert "held for corrected inputs" in swept["outage"]["reason"]
    assert keys(s3, buckets.predictions, "predictions/outage/") == []

    etag = s3.head_object(Bucket=buckets.predictions, Key="predictions/clean/_SUCCESS")["ETag"]
    assert list(_sweep(cfg, buckets)) == ["outage"]  # done once: the clean batch is published
    after = s3.head_object(Bucket=buckets.predictions, Key="predictions/clean/_SUCCESS")["ETag"]
    assert after == etag


def test_no_publish_fallback_while_the_breaker_state_is_unknown(breaker_asks, buckets, s3):
    _held_outage_and_clean(s3, buckets)
    s3.delete_object(Bucket=buckets.monitoring, Key="breaker/state.json")

    swept = _sweep(_config(hold_fallback="publish"), buckets)

    assert swept["clean"]["status"] == "held_too_long"
    assert swept["clean"]["reason"].startswith("breaker state unknown")
    assert keys(s3, buckets.predictions, "predictions/") == []


def test_a_release_goes_through_the_gate_unless_forced(breaker_asks, buckets, s3):
    _held_outage_and_clean(s3, buckets)
    [refused] = _infer({"action": "release", "batch_id": "clean"})  # no order from the breaker
    assert refused["status"] == "held" and refused["reason"].startswith("no release order")

    released = _breaker({"action": "release", "batch_id": "clean"})
    assert breaker_asks[-1] == {"action": "release", "batch_id": "clean"}
    assert released["event"]["cause"]["action"] == "release"
    [clean] = _infer(breaker_asks[-1])
    assert clean["status"] == "published" and clean["model_version"] == "v0001"
    assert "release" not in _json(s3, buckets.predictions, "predictions/clean/_SUCCESS")

    _breaker({"action": "release", "batch_id": "outage"})
    [again] = _infer(breaker_asks[-1])
    assert again["status"] == "held" and "JoinCoverage" in again["gate"]["trips"]
    assert keys(s3, buckets.predictions, "predictions/outage/") == []

    _breaker({"action": "release", "batch_id": "outage", "force": True})
    [forced] = _infer(breaker_asks[-1])
    assert forced["status"] == "published" and forced["model_version"] == "v0001"
    manifest = _json(s3, buckets.predictions, "predictions/outage/_SUCCESS")
    assert manifest["release"]["force"] is True and manifest["release"]["actor"] == "alice"
    assert "JoinCoverage" in manifest["release"]["gate_trips"]
    actions = [e["cause"].get("action") for e in _log(s3, buckets)]
    assert actions.count("release") == 3


def test_a_batch_waiting_on_probation_past_the_limit_pages_and_is_not_published(
    breaker_asks, buckets, s3, monkeypatch
):
    from handlers import breaker
    from mlcycle.breaker import holds

    paged: list[list[str]] = []
    # HeldTooLong's own test is above; this module's emulator keeps that test's datapoints,
    # so the page is read where it is sent.
    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: paged.append(batches))
    _breaker({"action": "open"})

    # A recovery that kept the champion puts it on probation, and says so in the event log.
    kept = {"action": "model_promoted", "version": "v0001", "kept": True}
    promoted = breaker.handler(kept, None)
    assert promoted["state"]["state"] == "HALF_OPEN"
    assert (
        promoted["event"]["cause"]["reason"] == "recovery kept the champion: it goes on probation"
    )
    _upload(s3, buckets, "waiting", day="2026-01-06")
    [scored] = _infer({"batch_id": "waiting"})
    assert scored["status"] == "published" and scored["probation"] is True
    cfg = _config()
    assert _sweep(cfg, buckets, hours=23) == {}

    swept = _sweep(cfg, buckets)

    assert swept["waiting"]["status"] == "held_too_long"
    assert swept["waiting"]["reason"] == "on probation: awaiting the verdict on v0001"
    assert paged == [["waiting"]]
    assert keys(s3, buckets.predictions, "predictions/") == []


def test_an_unreadable_probation_manifest_pages_and_the_sweep_goes_on(
    breaker_asks, buckets, s3, monkeypatch
):
    from handlers import breaker
    from mlcycle.breaker import holds

    paged: list[list[str]] = []
    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: paged.append(batches))
    _held_outage_and_clean(s3, buckets)
    breaker.handler({"action": "model_promoted", "version": "v0001"}, None)
    s3.put_object(Bucket=buckets.predictions, Key="probation/broken/_SUCCESS", Body=b"{not json")

    swept = _sweep(_config(), buckets)

    assert swept["broken"]["status"] == "held_too_long"
    assert swept["broken"]["reason"].startswith("probation manifest unreadable")
    # The held batches past their limit are still swept and paged with it.
    assert swept["outage"]["status"] == "held_too_long"
    assert paged and {"broken", "outage"} <= set(paged[0])


def test_a_rescan_reads_nothing_of_the_batches_published_long_since(
    breaker_asks, buckets, s3, monkeypatch
):
    """Their folders stay in incoming/, held/ and probation/: one listing of the published
    batches must tell the rescan, the sweep and the probation check to pass them by."""
    from handlers import breaker, runtime
    from mlcycle import events
    from mlcycle.breaker import holds
    from mlcycle.inference import handle
    from mlcycle.objectstore import ObjectStore

    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: None)
    _breaker({"action": "open"})
    breaker.handler({"action": "model_promoted", "version": "v0001"}, None)
    manifest = json.dumps({"model_version": "v0001", "published_at": "2026-01-01T00:00:00+00:00"})
    note = json.dumps({"held_at": "2026-01-01T00:00:00+00:00", "reason": "gate"})
    for n in range(5):  # held, scored on earlier probations, published long since
        for folder in ("probation", "predictions"):
            s3.put_object(
                Bucket=buckets.predictions, Key=f"{folder}/old-{n}/_SUCCESS", Body=manifest
            )
        s3.put_object(Bucket=buckets.data, Key=f"incoming/old-{n}/bookings.csv", Body=b"x")
        s3.put_object(Bucket=buckets.data, Key=f"held/old-{n}/held.json", Body=note)
    s3.put_object(Bucket=buckets.predictions, Key="probation/waiting/_SUCCESS", Body=manifest)
    s3.put_object(Bucket=buckets.data, Key="held/stuck/held.json", Body=note)
    read: list[str] = []
    get_json, exists = ObjectStore.get_json, ObjectStore.exists
    monkeypatch.setattr(
        ObjectStore,
        "get_json",
        lambda self, b, k, **kw: read.append(k) or get_json(self, b, k, **kw),
    )
    monkeypatch.setattr(
        ObjectStore, "exists", lambda self, b, k: read.append(k) or exists(self, b, k)
    )

    rescan = handle(_config(), runtime.plugin(), runtime.store(), buckets, events.Rescan())

    swept = {r["batch_id"]: r for r in rescan["results"]}
    assert swept["waiting"]["reason"] == "on probation: awaiting the verdict on v0001"
    assert swept["stuck"]["reason"] == "breaker.hold_fallback is page"
    assert "held/stuck/held.json" in read
    assert not [k for k in read if "old-" in k], read
    assert not [b for b in swept if b.startswith("old-")], swept


def test_a_batch_awaits_its_verdict_while_scored_on_probation_and_unpublished(buckets, s3):
    from mlcycle.breaker.effects import AwsBreakerActions
    from mlcycle.objectstore import ObjectStore

    actions = AwsBreakerActions(ObjectStore(), buckets, "m")
    assert actions.awaiting_verdict("b1") is False  # never scored
    s3.put_object(Bucket=buckets.predictions, Key="probation/b1/_SUCCESS", Body=b"{}")
    assert actions.awaiting_verdict("b1") is True
    s3.put_object(Bucket=buckets.predictions, Key="predictions/b1/_SUCCESS", Body=b"{}")
    assert actions.awaiting_verdict("b1") is False  # published


def test_a_refuted_candidate_returns_every_batch_it_scored_to_held(breaker_asks, buckets, s3):
    from handlers import breaker

    _breaker({"action": "open"})
    breaker.handler({"action": "model_promoted", "version": "v0001"}, None)
    for batch_id, day in (("first", "2026-01-06"), ("second", "2026-01-07")):
        _upload(s3, buckets, batch_id, day=day)
        [scored] = _infer({"batch_id": batch_id})
        assert scored["status"] == "published" and scored["probation"] is True

    report = refuting_report("first")
    refuted = breaker.handler(report, None)

    assert refuted["state"]["state"] == "OPEN"
    # Both wait in held/ for the next candidate; neither keeps a probation output that would
    # stop that candidate from scoring it.
    assert keys(s3, buckets.predictions, "probation/") == []
    for batch_id in ("first", "second"):
        assert keys(s3, buckets.data, f"incoming/{batch_id}/") == []
        assert keys(s3, buckets.data, f"held/{batch_id}/"), batch_id
    note = _json(s3, buckets.data, "held/second/held.json")
    assert note["reason"] == "candidate v0001 refuted by first on probation"


def test_a_probation_batch_left_unpublished_after_the_probation_pages_past_the_limit(
    breaker_asks, buckets, s3, monkeypatch
):
    from handlers import breaker
    from mlcycle.breaker import holds

    paged: list[list[str]] = []
    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: paged.append(batches))
    _breaker({"action": "open"})
    breaker.handler({"action": "model_promoted", "version": "v0001"}, None)
    _upload(s3, buckets, "waiting", day="2026-01-06")
    [scored] = _infer({"batch_id": "waiting"})
    assert scored["status"] == "published" and scored["probation"] is True
    assert _breaker({"action": "close"})["state"]["state"] == "CLOSED"

    swept = _sweep(_config(), buckets)

    # Not published and no longer any probation's: it pages instead of waiting unnoticed.
    assert swept["waiting"]["status"] == "held_too_long"
    assert swept["waiting"]["reason"] == "on probation: scored by v0001, no longer the candidate"
    assert paged == [["waiting"]]


def test_the_publish_fallback_pages_a_batch_still_waiting_for_its_first_labels(
    breaker_asks, buckets, s3
):
    """Its drifted inputs were never judged by labels: past the limit it pages, unpublished."""
    _upload(s3, buckets, "campaign", "benign_shift")
    [waiting] = _infer({"batch_id": "campaign"})
    assert waiting["status"] == "held" and waiting["awaiting_labels"], waiting
    swept = _sweep(_config(hold_fallback="publish"), buckets)
    assert swept["campaign"]["status"] == "held_too_long", swept
    assert "held for its first labels" in swept["campaign"]["reason"]
    assert keys(s3, buckets.predictions, "predictions/campaign/") == []
    assert keys(s3, buckets.predictions, "probation/campaign/") == []


def test_a_drifted_arrival_on_probation_waits_for_its_first_labels(breaker_asks, buckets, s3):
    """A probation's close would publish it without its labels' verdict."""
    from mlcycle.breaker.machine import Breaker
    from mlcycle.objectstore import ObjectStore
    from tests.integration.conftest import _NoEffects

    breaker = Breaker(ObjectStore(boto3.client("s3")), buckets.monitoring, _NoEffects())
    breaker.trip({"reason": "test"}, "test")
    breaker.model_promoted("v0001", "test")
    assert _json(s3, buckets.monitoring, "breaker/state.json")["state"] == "HALF_OPEN"
    _upload(s3, buckets, "campaign", "benign_shift")
    [result] = _infer({"batch_id": "campaign"})
    assert result["status"] == "held" and result["awaiting_labels"], result
    assert keys(s3, buckets.predictions, "probation/campaign/") == []
    assert _json(s3, buckets.data, "held/campaign/held.json")["awaiting_labels"]["rows"] == 1500


def test_an_operator_releases_a_batch_its_first_labels_held_through_the_gate(
    breaker_asks, buckets, s3
):
    """A label feed that was late, not corrupted inputs: the release publishes it through the
    gate (its drift no longer makes it wait: an operator decided), with a line in the log."""
    from mlcycle.batches import change_held_note
    from mlcycle.objectstore import ObjectStore

    _upload(s3, buckets, "late-labels", "benign_shift")
    assert _infer({"batch_id": "late-labels"})[0]["awaiting_labels"]
    breach = {"rule": "LabelsOverdue", "reason": "9 of 20 rows past their label due date"}
    store = ObjectStore(boto3.client("s3"))
    change_held_note(store, buckets, "late-labels", lambda n: {**n, "breaches": [breach]})

    _breaker({"action": "release", "batch_id": "late-labels"})
    [released] = _infer(breaker_asks[-1])
    assert released["status"] == "published" and released["model_version"] == "v0001", released
    manifest = _json(s3, buckets.predictions, "predictions/late-labels/_SUCCESS")
    assert "FeatureDrift" in manifest["warnings"] and not manifest["gate"]["trips"]
    assert [e["cause"].get("action") for e in _log(s3, buckets)] == ["release"]


def test_a_sweep_lists_the_published_batches_and_the_held_folders_once(
    breaker_asks, buckets, s3, monkeypatch
):
    """Its look at held batches and at batches waiting on probation go by the same listings."""
    from handlers import runtime
    from mlcycle.breaker import holds

    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: None)
    manifest = json.dumps({"model_version": "v0001", "published_at": "2026-01-01T00:00:00+00:00"})
    note = json.dumps({"held_at": "2026-01-01T00:00:00+00:00", "reason": "gate"})
    s3.put_object(Bucket=buckets.predictions, Key="probation/waiting/_SUCCESS", Body=manifest)
    s3.put_object(Bucket=buckets.data, Key="held/stuck/held.json", Body=note)
    listed: list[str] = []
    runtime.store().s3.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2",
        lambda params, **_: listed.append(f"{params['Bucket']}/{params['Prefix']}"),
        unique_id="count-listings",
    )
    try:
        swept = _sweep(_config(), buckets)
    finally:
        runtime.store().s3.meta.events.unregister(
            "before-parameter-build.s3.ListObjectsV2", unique_id="count-listings"
        )
    assert swept["stuck"]["status"] == swept["waiting"]["status"] == "held_too_long"
    assert sorted(listed) == sorted(
        [
            f"{buckets.predictions}/predictions/",
            f"{buckets.data}/held/",
            f"{buckets.predictions}/probation/",
        ]
    )


@pytest.fixture
def requested(monkeypatch):
    """The prefixes the functions' store lists and the keys it gets, in order."""
    from handlers import runtime

    seen: list[str] = []
    events = runtime.store().s3.meta.events
    hooks = {
        "ListObjectsV2": lambda params, **_: seen.append(f"list {params['Prefix']}"),
        "GetObject": lambda params, **_: seen.append(params["Key"]),
    }
    for operation, hook in hooks.items():
        events.register(f"before-parameter-build.s3.{operation}", hook, unique_id=operation)
    yield seen
    for operation in hooks:
        events.unregister(f"before-parameter-build.s3.{operation}", unique_id=operation)


def test_a_rescan_looks_at_what_waits_once_when_it_publishes_nothing_confirmed(
    breaker_asks, buckets, s3, monkeypatch, requested
):
    """Its publication of confirmed batches and its sweep go by one look at held/."""
    from handlers import runtime
    from mlcycle import events
    from mlcycle.breaker import holds
    from mlcycle.inference import handle

    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: None)
    note = json.dumps({"held_at": "2026-01-01T00:00:00+00:00", "reason": "gate"})
    s3.put_object(Bucket=buckets.data, Key="held/stuck/held.json", Body=note)

    rescan = handle(_config(), runtime.plugin(), runtime.store(), buckets, events.Rescan())

    assert [r["status"] for r in rescan["results"]] == ["held_too_long"]
    assert requested.count("held/stuck/held.json") == 1, requested
    assert requested.count("list held/") == 1, requested
    # One for the rescan's new batches, one for its look at what waits.
    assert requested.count("list predictions/") == 2, requested


def test_a_batch_the_rescan_published_on_its_labels_is_not_swept_as_held(
    breaker_asks, buckets, s3, monkeypatch
):
    """Its sweep looks again after a confirmed batch was published: a day past the hold
    limit, the published batch is not paged."""
    from handlers import runtime
    from mlcycle import events
    from mlcycle.breaker import holds
    from mlcycle.inference import handle

    monkeypatch.setattr(holds, "report_held_too_long", lambda model, batches: None)
    _held_outage_and_clean(s3, buckets)
    _breaker({"action": "close"})
    note = _json(s3, buckets.data, "held/clean/held.json")
    s3.put_object(
        Bucket=buckets.data,
        Key="held/clean/held.json",
        Body=json.dumps({**note, "confirmed": {"overdue": 0}}).encode(),
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    monkeypatch.setattr(holds, "now", lambda: later)

    rescan = handle(_config(), runtime.plugin(), runtime.store(), buckets, events.Rescan())

    statuses = [(r["batch_id"], r["status"]) for r in rescan["results"]]
    assert ("clean", "published") in statuses and ("outage", "held_too_long") in statuses
    assert [s for b, s in statuses if b == "clean"] == ["published"], statuses
