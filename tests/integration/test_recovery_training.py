"""The breaker's recovery retrain on moto_server: integrity-broken batches never train, the
challenger takes over only by beating the champion on the newest labels, and the previous
champion can win it back (a rollback the breaker hears of like a promotion)."""

import dataclasses
import json

import boto3
import pytest

from data.generate import make_batch, make_training
from demo.scenario import csv_bytes
from tests.integration.helpers import read_csv, upload_batch

SEED = 11


@pytest.fixture
def told(monkeypatch):
    """What training tells the breaker function (after_promotion's asynchronous invoke)."""
    import mlcycle.breaker.gate as gate

    calls = []
    monkeypatch.setattr(gate, "invoke_async", lambda env, payload: calls.append(payload))
    return calls


@pytest.fixture
def world(buckets, s3):
    """A champion trained on 8,000 rows of the generator's world."""
    from handlers import train

    bookings, hotels = make_training(8000, SEED)
    s3.put_object(Bucket=buckets.data, Key="training/bookings/b.csv", Body=csv_bytes(bookings))
    s3.put_object(Bucket=buckets.data, Key="training/hotels/h.csv", Body=csv_bytes(hotels))
    first = train.handler({}, None)
    assert first["status"] == "promoted" and first["champion"] == "v0001", first
    return first


def _deliver(s3, buckets, batch_id, day, incident=None):
    """Upload a batch, let infer publish (or hold) it, then upload its complete labels."""
    from handlers import infer

    batch = make_batch(day, 1500, SEED, incident)
    files = {"bookings": csv_bytes(batch.bookings), "hotels": csv_bytes(batch.hotels)}
    upload_batch(s3, buckets.data, batch_id, files)
    result = infer.handler({"batch_id": batch_id}, None)["results"][0]
    s3.put_object(Bucket=buckets.data, Key=f"labels/{batch_id}.csv", Body=csv_bytes(batch.labels))
    return result


def _breaker():
    from mlcycle.breaker.machine import Breaker
    from mlcycle.objectstore import ObjectStore
    from mlcycle.storage import Buckets
    from tests.integration.conftest import _NoEffects

    monitoring = Buckets.from_env().monitoring
    return Breaker(ObjectStore(boto3.client("s3")), monitoring, _NoEffects())


def _open_breaker():
    _breaker().trip({"reason": "t"}, "t")


def _weak(monkeypatch):
    """Train with one boosting round from now on: a model no better than the class prior."""
    from handlers import runtime

    cfg = runtime.config()
    monkeypatch.setattr(
        runtime, "config", lambda: dataclasses.replace(cfg, params={**cfg.params, "max_iter": 1})
    )


def _json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _recover():
    from handlers import train

    return train.handler({"recovery": True, "actor": "breaker", "reason": "alarm"}, None)


def test_labels_of_batches_whose_inputs_broke_an_integrity_rule_never_train(
    world, buckets, s3, breaker_calls
):
    from handlers import train

    held = _deliver(s3, buckets, "a-outage", "2026-01-05", "source_outage")
    assert "JoinCoverage" in held["gate"]["trips"]  # held by the gate, breaker open
    days = (("b-clean", "2026-01-06"), ("c-late", "2026-01-07"), ("d-shifted", "2026-01-08"))
    for batch_id, day in days:
        assert _deliver(s3, buckets, batch_id, day)["status"] == "held"  # held: breaker open
    # The monitor's verdicts: an integrity trip excludes, a performance trip does not (the
    # inputs were fine and the labels are the new behaviour a recovery must learn), unless
    # the inputs had drifted too (a corrupted feature: its labels would teach the corruption).
    for batch_id, trips, cause in (
        ("b-clean", ["RealisedAccuracy"], []),
        ("c-late", ["NullRate"], []),
        ("d-shifted", ["PositiveRateGap"], ["day_distance"]),
    ):
        s3.put_object(
            Bucket=buckets.monitoring,
            Key=f"reports/{batch_id}.json",
            Body=json.dumps({"rules": {"trips": trips, "likely_cause": cause}}).encode(),
        )

    result = train.handler({}, None)

    assert sorted(result["excluded_batches"]) == ["a-outage", "c-late", "d-shifted"]
    assert result["labelled_batches"] == 1
    meta = _json(s3, buckets.models, f"models/booking_status/{result['version']}/metadata.json")
    parts = [p["part"] for p in meta["training"]["parts"]]
    assert parts == ["training sources", "batch b-clean"]
    notes = " | ".join(meta["training"]["notes"])
    assert "batch a-outage: excluded, its inputs are suspect (gate hold: JoinCoverage" in (notes)
    assert "batch c-late: excluded, its inputs are suspect (monitor report: NullRate)" in (notes)
    excluded = {e["batch_id"]: e["integrity_trips"] for e in meta["training"]["excluded"]}
    assert excluded["c-late"] == {"monitor report": ["NullRate"]}
    assert excluded["d-shifted"] == {
        "monitor report": ["PositiveRateGap on drifted inputs (day_distance)"]
    }


def test_a_recovery_keeps_the_champion_unless_the_challenger_beats_it_on_the_newest_labels(
    world, buckets, s3, told, monkeypatch
):
    for day in range(1, 4):  # the world as the champion knows it
        _deliver(s3, buckets, f"clean-{day:02d}", f"2026-01-{day + 1:02d}")
    _open_breaker()
    _weak(monkeypatch)

    kept = _recover()

    assert kept["status"] == "stored_not_promoted" and kept["champion"] == "v0001", kept
    assert "no candidate beats champion v0001 by the margin; it stays" in kept["reason"]
    scores = kept["candidates"]
    assert scores["challenger"]["log_loss"] > scores["champion"]["log_loss"] - scores["margin"]
    assert "previous" not in scores and not told


def test_a_recovery_after_concept_drift_fits_the_drifted_batches_alone_and_takes_over(
    world, buckets, s3, told
):
    for day in range(1, 3):
        _deliver(s3, buckets, f"clean-{day:02d}", f"2026-01-{day + 1:02d}")
    for day in range(3, 6):  # cancellations rise: the champion is wrong, the inputs are fine
        _deliver(s3, buckets, f"drift-{day:02d}", f"2026-01-{day + 1:02d}", "concept_drift")
    _open_breaker()

    promoted = _recover()

    assert promoted["status"] == "promoted" and promoted["champion"] == "v0002", promoted
    scores = promoted["candidates"]
    assert scores["challenger"]["log_loss"] < scores["champion"]["log_loss"] - scores["margin"]
    assert told == [{"action": "model_promoted", "version": "v0002"}]
    meta = _json(s3, buckets.models, "models/booking_status/v0002/metadata.json")
    training = meta["training"]
    recent = [p["part"] for p in training["parts"] if p.get("recent")]
    assert recent == ["batch drift-05", "batch drift-04", "batch drift-03"]
    assert training["recovery"] and training["recent_batches"] == 3
    # The weighted history, the recent batches alone, the newest alone and the champion
    # re-weighted on the newest met on the holdout: the history outvotes three drifted batches,
    # so a fit learnt from drifted rows alone won.
    fits = training["fits"]
    assert set(fits) >= {"weighted", "recent", "newest", "priors"}, fits
    assert fits["metric"] == "log_loss" and training["fit"] != "weighted", fits
    assert fits[training["fit"]]["log_loss"] < fits["weighted"]["log_loss"]
    assert fits["weighted"]["fitted_rows"] > training["rows"]  # recent rows counted 3 times
    assert training["fitted_rows"] == fits[training["fit"]]["fitted_rows"] < training["rows"]
    # Judged on the newest labels: the holdout is a share of the recent batches' rows.
    assert meta["holdout"]["rows"] < 3 * 1500 and meta["holdout"]["from"] >= "2026-01-03"


def test_a_recovery_rolls_back_when_the_previous_champion_is_the_best_of_three(
    world, buckets, s3, told, monkeypatch
):
    from handlers import train

    _weak(monkeypatch)
    forced = train.handler({"force": True, "actor": "alice", "reason": "vendor model"}, None)
    assert forced["champion"] == "v0002"
    _deliver(s3, buckets, "clean-01", "2026-01-02")
    _open_breaker()

    back = _recover()

    assert back["status"] == "rolled_back" and back["champion"] == "v0001", back
    assert "previous v0001 is best; rolled back" in back["reason"]
    scores = back["candidates"]
    assert scores["previous"]["version"] == "v0001" and scores["champion"]["version"] == "v0002"
    assert scores["previous"]["log_loss"] < scores["challenger"]["log_loss"]
    aliases = _json(s3, buckets.models, "models/booking_status/aliases.json")
    assert (aliases["champion"], aliases["previous"]) == ("v0001", "v0002")
    assert (
        aliases["history"][-1]["rollback"] is True and aliases["history"][-1]["actor"] == "breaker"
    )
    assert told == [{"action": "model_promoted", "version": "v0001"}]


def test_an_operator_rollback_swaps_champion_and_previous_and_can_be_undone(buckets):
    from mlcycle.objectstore import ObjectStore
    from mlcycle.registry import Decision, ModelRegistry

    registry = ModelRegistry(ObjectStore(), buckets.models, "m")
    v1, _ = registry.register({"weights": 1}, {})
    v2, _ = registry.register({"weights": 2}, {})
    registry.promote(v1, lambda champion: Decision(True, "first"))
    refused = registry.rollback("bad scores", "alice")
    assert not refused.promote and "no previous champion" in refused.reason
    registry.promote(v2, lambda champion: Decision(True, "better"))

    back = registry.rollback("bad scores", "alice")

    assert back.rollback and back.champion == v1
    aliases, _ = registry.aliases()
    assert (aliases["champion"], aliases["previous"]) == (v1, v2)
    line = aliases["history"][-1]
    assert (line["actor"], line["reason"], line["rollback"]) == ("alice", "bad scores", True)
    assert registry.rollback("undo", "alice").champion == v2


def test_two_drifted_batches_reweight_the_champion_and_the_store_serves_it_reweighted(
    world, buckets, s3, told
):
    for day in range(1, 4):
        _deliver(s3, buckets, f"clean-{day:02d}", f"2026-01-{day + 1:02d}")
    _deliver(s3, buckets, "drift-04", "2026-01-05", "concept_drift")
    drifted = _deliver(s3, buckets, "drift-05", "2026-01-06", "concept_drift")
    _open_breaker()

    promoted = _recover()

    training = _json(s3, buckets.models, "models/booking_status/v0002/metadata.json")["training"]
    assert promoted["status"] == "promoted" and promoted["fit"] == "priors", training["fits"]
    fits = training["fits"]
    # A batch is too few rows to relearn the model, enough to learn that cancellations rose.
    assert fits["priors"]["log_loss"] < fits["newest"]["log_loss"], fits
    assert fits["priors"]["offsets"]["cancelled"] > 1.5, fits
    assert training["fitted_rows"] == fits["priors"]["fitted_rows"] == fits["newest"]["fitted_rows"]

    # The champion the model store loads is the re-weighted one: on the same drifted world it
    # predicts far more cancellations than the champion before it did.
    _breaker().force("CLOSED", "probation is tested elsewhere", "t")
    after = _deliver(s3, buckets, "drift-06", "2026-01-07", "concept_drift")
    assert after["status"] == "published" and after["model_version"] == "v0002", after
    key = "predictions_key"
    shares = [
        (read_csv(s3, buckets.predictions, r[key])["predicted_status"] == "cancelled").mean()
        for r in (drifted, after)
    ]
    assert shares[1] > shares[0] + 0.15, shares


def test_a_recovery_on_labels_older_than_the_incident_keeps_the_champion_until_newer_ones(
    world, buckets, s3, told, monkeypatch
):
    from handlers import infer, runtime, train
    from mlcycle import storage
    from mlcycle.monitoring.window import WINDOW_FORMAT

    # A weak champion: on any labels, old or new, a recovery's candidates beat it.
    usual = runtime.config
    _weak(monkeypatch)
    assert train.handler({"force": True, "actor": "alice", "reason": "t"}, None)["champion"] == (
        "v0002"
    )
    monkeypatch.setattr(runtime, "config", usual)
    for day in range(1, 3):
        _deliver(s3, buckets, f"clean-{day:02d}", f"2026-01-{day + 1:02d}")
    # drift-03 is published; its partial labels trip EarlyPositiveRate, whose alarm opens the
    # breaker. Its complete labels are not in yet.
    drifted = make_batch("2026-01-04", 1500, SEED, "concept_drift")
    files = {"bookings": csv_bytes(drifted.bookings), "hotels": csv_bytes(drifted.hotels)}
    upload_batch(s3, buckets.data, "drift-03", files)
    assert infer.handler({"batch_id": "drift-03"}, None)["results"][0]["status"] == "published"
    published = _json(s3, buckets.predictions, "predictions/drift-03/_SUCCESS")["published_at"]
    tripped = {
        "batch_id": "drift-03",
        "published_at": published,
        "levels": {"EarlyPositiveRate": 2},
    }
    window = {"format": WINDOW_FORMAT, "accepted_since": None, "entries": [tripped]}
    key = storage.window_key("booking_status")
    s3.put_object(Bucket=buckets.monitoring, Key=key, Body=json.dumps(window).encode())
    _breaker().trip({"reason": "alarm", "rule": "EarlyPositiveRate", "family": "performance"}, "t")
    told.clear()

    kept = _recover()

    assert kept["status"] == "stored_not_promoted" and kept["champion"] == "v0002", kept
    clean = _json(s3, buckets.predictions, "predictions/clean-02/_SUCCESS")["published_at"]
    assert kept["reason"] == (
        f"not promoted: the newest labels trained on are of a batch that came in at {clean}, "
        f"before drift-03 ({published}), whose labels showed the incident: they cannot show "
        "whether a model repairs it"
    )
    # The candidates were scored, and beat it; the champion goes on probation all the same, to
    # be judged by the labels of the batches it holds.
    scores = kept["candidates"]
    assert scores["champion"]["log_loss"] > scores["challenger"]["log_loss"] + scores["margin"]
    assert told == [{"action": "model_promoted", "version": "v0002", "kept": True}]

    told.clear()
    labels = csv_bytes(drifted.labels)
    s3.put_object(Bucket=buckets.data, Key="labels/drift-03.csv", Body=labels)

    recovered = _recover()

    assert recovered["status"] in ("promoted", "rolled_back"), recovered
    assert recovered["champion"] != "v0002"
    assert told == [{"action": "model_promoted", "version": recovered["champion"]}]
