"""The gate before publication inside the infer paths: a trip changes what happens to the
batches after it, and a batch held for broken input waits for corrected files."""

import json

import boto3

from data.generate import make_batch
from tests.integration.helpers import SCHEDULED, keys, upload_batch


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode()


def _upload(s3, buckets, batch_id, incident=None, day="2026-01-05"):
    batch = make_batch(day, 1500, seed=4, incident=incident)
    files = {"bookings": _csv(batch.bookings), "hotels": _csv(batch.hotels)}
    upload_batch(s3, buckets.data, batch_id, files)


def _state(s3, buckets):
    body = s3.get_object(Bucket=buckets.monitoring, Key="breaker/state.json")["Body"].read()
    return json.loads(body)


def test_a_trip_in_a_rescan_holds_the_batches_after_it(trained, buckets, s3, breaker_calls):
    from handlers import infer

    _upload(s3, buckets, "a-outage", "source_outage")
    _upload(s3, buckets, "b-clean", day="2026-01-06")
    results = {r["batch_id"]: r for r in infer.handler(SCHEDULED, None)["results"]}

    assert results["a-outage"]["status"] == "held" and results["a-outage"]["gate"]["trips"]
    assert _state(s3, buckets)["state"] == "OPEN"  # the breaker opened on the gate's call
    # The clean batch came after the trip in the same invocation: held, not published.
    assert results["b-clean"]["status"] == "held"
    assert keys(s3, buckets.predictions, "predictions/") == []
    assert [p["batch_id"] for _, p in breaker_calls] == ["a-outage"]


def test_a_batch_held_for_broken_input_is_not_put_on_probation(trained, buckets, s3, breaker_calls):
    from handlers import infer
    from mlcycle.breaker.gate import score_held
    from mlcycle.breaker.machine import Breaker
    from mlcycle.config import load_config
    from mlcycle.objectstore import ObjectStore
    from mlcycle.plugin import load_plugin
    from tests.conftest import MODEL_DIR
    from tests.integration.conftest import _NoEffects

    _upload(s3, buckets, "outage", "source_outage")
    infer.handler({"batch_id": "outage"}, None)
    _upload(s3, buckets, "later", day="2026-01-06")
    assert infer.handler({"batch_id": "later"}, None)["results"][0]["status"] == "held"

    store = ObjectStore(boto3.client("s3"))
    Breaker(store, buckets.monitoring, _NoEffects()).model_promoted("v0001", "test")
    cfg = load_config(MODEL_DIR / "model_config.yml")
    scored = score_held(cfg, load_plugin(cfg, MODEL_DIR), store, buckets, probation=True)

    # The batch held only because the breaker was open goes to probation; the one whose
    # inputs broke an integrity rule waits for corrected files.
    assert [r["batch_id"] for r in scored] == ["later"]
    assert keys(s3, buckets.data, "held/outage/")
    assert keys(s3, buckets.predictions, "probation/outage/") == []


def _on_probation(s3, buckets, version="v0001"):
    from mlcycle.breaker.machine import Breaker
    from mlcycle.objectstore import ObjectStore
    from tests.integration.conftest import _NoEffects

    breaker = Breaker(ObjectStore(boto3.client("s3")), buckets.monitoring, _NoEffects())
    breaker.trip({"reason": "test"}, "test")
    breaker.model_promoted(version, "test")
    assert _state(s3, buckets)["state"] == "HALF_OPEN"


def test_no_second_recovery_promotes_while_a_candidate_is_on_probation(
    trained, buckets, s3, monkeypatch
):
    import mlcycle.breaker.gate as gate
    from handlers import train

    told = []
    monkeypatch.setattr(gate, "invoke_async", lambda env, payload: told.append(payload))
    _on_probation(s3, buckets)
    result = train.handler({"recovery": True, "actor": "breaker", "reason": "reopened"}, None)

    assert result["status"] == "deferred" and "v0001" in result["reason"], result
    assert keys(s3, buckets.models, "models/booking_status/v0002") == []
    forced = train.handler({"force": True, "actor": "alice", "reason": "vendor fix"}, None)
    assert forced["status"] == "promoted"  # an operator's forced run still goes through
    assert told == [{"action": "model_promoted", "version": forced["version"]}]


def test_probation_starting_during_a_run_vetoes_its_promotion(trained, buckets, s3):
    import dataclasses

    from mlcycle.breaker.gate import promotion_veto
    from mlcycle.config import load_config
    from mlcycle.objectstore import ObjectStore
    from mlcycle.plugin import load_plugin
    from mlcycle.training import run_training
    from tests.conftest import MODEL_DIR

    cfg = load_config(MODEL_DIR / "model_config.yml")
    store = ObjectStore(boto3.client("s3"))
    plugin = load_plugin(cfg, MODEL_DIR)
    # A champion of one boosting round: the run's challenger beats it, so only the veto stops it.
    weak = dataclasses.replace(cfg, params={**cfg.params, "max_iter": 1})
    assert run_training(weak, plugin, store, buckets, force=True)["champion"] == "v0002"
    _on_probation(s3, buckets)  # as if another recovery had been promoted meanwhile
    result = run_training(
        cfg, plugin, store, buckets, recovery=True, veto=promotion_veto(cfg, store, buckets)
    )
    assert result["status"] == "stored_not_promoted" and result["champion"] == "v0002"
    assert result["reason"] == "not promoted: v0001 is on probation"
    scores = result["candidates"]  # what it would have promoted, kept for the record
    assert scores["challenger"]["log_loss"] < scores["champion"]["log_loss"] - scores["margin"]


def test_an_unreadable_window_judges_with_holdout_limits_and_is_set_aside_not_lost(
    trained, buckets, s3, breaker_calls
):
    from handlers import infer, monitor

    key = "limits/booking_status/window.json"
    s3.put_object(Bucket=buckets.monitoring, Key=key, Body=b'{"entries": [tru')
    _upload(s3, buckets, "clean")

    [result] = infer.handler({"batch_id": "clean"}, None)["results"]

    # The gate judged with v0001's holdout limits: nothing held or quarantined for it.
    assert result["status"] == "published", result
    assert "window" not in {v.get("basis") for v in result["gate"]["verdicts"].values()}
    [monitored] = monitor.handler({"batch_id": "clean"}, None)["results"]
    assert monitored["status"] == "monitored"
    window = json.loads(s3.get_object(Bucket=buckets.monitoring, Key=key)["Body"].read())
    assert [e["batch_id"] for e in window["entries"]] == ["clean"]
    [aside] = keys(s3, buckets.monitoring, f"{key}.unreadable-")
    assert s3.get_object(Bucket=buckets.monitoring, Key=aside)["Body"].read() == b'{"entries": [tru'


def test_a_gate_trip_the_breaker_cannot_hear_still_holds_the_batch(
    trained, buckets, s3, monkeypatch
):
    import mlcycle.publication_gate as gate
    from handlers import infer
    from mlcycle.invoke import InvokeFailed

    def unreachable(function_env, payload):
        raise InvokeFailed("mlcycle-breaker failed (Unhandled): Rate exceeded")

    monkeypatch.setattr(gate, "invoke_sync", unreachable)
    _upload(s3, buckets, "outage", "source_outage")

    [result] = infer.handler({"batch_id": "outage"}, None)["results"]

    # Held with its verdicts at the first attempt, never sent round the retries to quarantine.
    assert result["status"] == "held" and "JoinCoverage" in result["gate"]["trips"]
    assert result["breaker"] is None and "Rate exceeded" in result["breaker_error"]
    assert keys(s3, buckets.data, "held/outage/")
    assert keys(s3, buckets.data, "quarantine/") == []
    assert keys(s3, buckets.predictions, "predictions/") == []
