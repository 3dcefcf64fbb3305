"""Training -> model store -> batch inference -> training, on a real moto_server over HTTP."""

import dataclasses
import json

import pandas as pd
import pytest

from tests.integration.helpers import (
    SAMPLE,
    SAMPLE_BATCH,
    SCHEDULED,
    keys,
    read_csv,
    sample_batch_files,
    upload_batch,
)


def s3_event(bucket, key):
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
            }
        ]
    }


def test_training_promotes_a_first_champion_that_beats_the_prior(trained, buckets, s3):
    assert trained["version"] == "v0001" and trained["champion"] == "v0001"
    assert trained["metrics"]["accuracy"] > trained["baseline"]["accuracy"] + 0.1
    meta = json.loads(
        s3.get_object(Bucket=buckets.models, Key="models/booking_status/v0001/metadata.json")[
            "Body"
        ].read()
    )
    assert meta["classes"] == ["booked", "cancelled", "fulfilled"]
    assert set(meta["reference_profile"]["features"]) >= {
        "day_distance",
        "length_of_stay",
        "country_code",
    }
    assert len(meta["model_sha256"]) == 64 and meta["holdout"]["rows"] == trained["rows"]["holdout"]
    aliases = json.loads(
        s3.get_object(Bucket=buckets.models, Key="models/booking_status/aliases.json")[
            "Body"
        ].read()
    )
    assert aliases["champion"] == "v0001" and aliases["previous"] is None


def test_s3_upload_of_the_last_source_scores_the_batch(trained, buckets, s3):
    from handlers import infer

    files = sample_batch_files()
    upload_batch(s3, buckets.data, SAMPLE_BATCH, {"bookings": files["bookings"]})
    first = infer.handler(s3_event(buckets.data, f"incoming/{SAMPLE_BATCH}/bookings.csv"), None)
    assert first["results"][0] == {
        "status": "waiting",
        "batch_id": SAMPLE_BATCH,
        "missing": ["hotels"],
    }
    assert keys(s3, buckets.predictions) == []

    upload_batch(s3, buckets.data, SAMPLE_BATCH, {"hotels": files["hotels"]})
    result = infer.handler(s3_event(buckets.data, f"incoming/{SAMPLE_BATCH}/hotels.csv"), None)[
        "results"
    ][0]
    assert result["status"] == "published"
    out = read_csv(s3, buckets.predictions, f"predictions/{SAMPLE_BATCH}/predictions.csv")
    bookings = pd.read_csv(
        SAMPLE / "incoming" / SAMPLE_BATCH / "bookings.csv", dtype={"hotel_id": str}
    )
    assert list(out.columns) == [
        "batch_id",
        "hotel_id",
        "predicted_status",
        "p_booked",
        "p_cancelled",
        "p_fulfilled",
        "model_version",
    ]
    assert out["hotel_id"].tolist() == bookings["hotel_id"].tolist()
    assert (out[["p_booked", "p_cancelled", "p_fulfilled"]].sum(axis=1) - 1).abs().max() < 2e-4
    assert (
        out["predicted_status"]
        == out[["p_booked", "p_cancelled", "p_fulfilled"]].idxmax(axis=1).str[2:]
    ).all()
    assert set(out["model_version"]) == {"v0001"} and set(out["batch_id"]) == {SAMPLE_BATCH}
    manifest = json.loads(
        s3.get_object(Bucket=buckets.predictions, Key=f"predictions/{SAMPLE_BATCH}/_SUCCESS")[
            "Body"
        ].read()
    )
    assert manifest["rows"] == len(bookings) and manifest["model_version"] == "v0001"
    hotels = pd.read_csv(SAMPLE / "incoming" / SAMPLE_BATCH / "hotels.csv", dtype=str)
    assert manifest["join_coverage"]["hotels"] == pytest.approx(
        bookings["hotel_id"].isin(hotels["hotel_id"]).mean()
    )


def test_redelivered_event_rewrites_nothing(trained, buckets, s3):
    from handlers import infer

    upload_batch(s3, buckets.data, SAMPLE_BATCH, sample_batch_files())
    event = s3_event(buckets.data, f"incoming/{SAMPLE_BATCH}/hotels.csv")
    assert infer.handler(event, None)["results"][0]["status"] == "published"
    before = {
        k: s3.head_object(Bucket=buckets.predictions, Key=k)["ETag"]
        for k in keys(s3, buckets.predictions)
    }
    again = infer.handler(event, None)["results"][0]
    assert again["status"] == "already_published"
    after = {
        k: s3.head_object(Bucket=buckets.predictions, Key=k)["ETag"]
        for k in keys(s3, buckets.predictions)
    }
    assert before == after and len(after) == 2


def test_rescan_scores_every_complete_unscored_batch_and_waits_for_incomplete(trained, buckets, s3):
    from handlers import infer

    files = sample_batch_files()
    upload_batch(s3, buckets.data, "day-1", files)
    upload_batch(s3, buckets.data, "day-2", files)
    upload_batch(s3, buckets.data, "day-3", {"bookings": files["bookings"]})
    summary = infer.handler(SCHEDULED, None)
    assert summary["trigger"] == "rescan" and summary["counts"] == {"published": 2, "waiting": 1}
    assert infer.handler(SCHEDULED, None)["counts"] == {"waiting": 1}


def test_a_crash_before_success_leaves_nothing_that_looks_published(
    trained, buckets, s3, monkeypatch
):
    from handlers import infer, runtime
    from mlcycle.inference import BatchFailed

    upload_batch(s3, buckets.data, SAMPLE_BATCH, sample_batch_files())

    def crash(model, features):
        raise RuntimeError("simulated crash mid-batch")

    with monkeypatch.context() as patch:
        patch.setattr(runtime.plugin(), "_predict", crash)
        with pytest.raises(BatchFailed, match="simulated crash"):
            infer.handler({"batch_id": SAMPLE_BATCH}, None)
    # no _SUCCESS, no predictions, no lease left behind
    assert keys(s3, buckets.predictions) == []
    assert s3.list_multipart_uploads(Bucket=buckets.predictions).get("Uploads", []) == []
    assert infer.handler({"batch_id": SAMPLE_BATCH}, None)["results"][0]["status"] == "published"


def test_no_champion_leaves_the_batch_waiting(buckets, s3):
    from handlers import infer

    upload_batch(s3, buckets.data, SAMPLE_BATCH, sample_batch_files())
    result = infer.handler({"batch_id": SAMPLE_BATCH}, None)["results"][0]
    assert result["status"] == "no_model"
    assert len(keys(s3, buckets.data, f"incoming/{SAMPLE_BATCH}/")) == 2


def test_labelled_batches_feed_the_next_training(trained, buckets, s3):
    from handlers import infer, train

    upload_batch(s3, buckets.data, SAMPLE_BATCH, sample_batch_files())
    infer.handler({"batch_id": SAMPLE_BATCH}, None)
    labels = (SAMPLE / "labels" / f"{SAMPLE_BATCH}.csv").read_bytes()
    s3.put_object(Bucket=buckets.data, Key=f"labels/{SAMPLE_BATCH}.csv", Body=labels)
    second = train.handler({}, None)
    assert second["labelled_batches"] == 1
    labelled_rows = labels.decode().count("\n") - 1
    assert (
        second["rows"]["train"] + second["rows"]["holdout"]
        == trained["rows"]["train"] + trained["rows"]["holdout"] + labelled_rows
    )
    assert second["version"] == "v0002"


def test_gate_keeps_the_champion_when_the_challenger_is_not_better(trained, buckets, monkeypatch):
    from handlers import runtime, train

    cfg = runtime.config()
    strict = dataclasses.replace(
        cfg, promotion=dataclasses.replace(cfg.promotion, min_improvement=0.05)
    )
    monkeypatch.setattr(runtime, "config", lambda: strict)
    result = train.handler({}, None)
    assert (
        result["status"] == "stored_not_promoted"
        and result["champion"] == "v0001"
        and result["version"] == "v0002"
    )
    assert "does not beat champion v0001" in result["reason"]
    forced = train.handler({"force": True, "reason": "operator test", "actor": "alice"}, None)
    assert (
        forced["status"] == "promoted"
        and forced["champion"] == "v0003"
        and "alice" in forced["reason"]
    )
