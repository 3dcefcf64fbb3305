"""The history window on moto_server: scheduled training reads the training sources and the
newest labelled batches only, whatever the history, and a full-history run reads them all."""

import dataclasses

import boto3
import pytest

from data.generate import make_batch, make_training
from demo.scenario import csv_bytes
from mlcycle.history_window import HistoryWindow
from tests.integration.helpers import SCHEDULED, upload_batch

SEED, BATCH_ROWS = 5, 300
# Where a labelled batch's objects live: what reading one costs, by key prefix.
BATCH_PREFIXES = ("labels/", "incoming/", "held/", "predictions/", "reports/")


@pytest.fixture
def reads(monkeypatch):
    """(operation, key) of every S3 call the functions make."""
    from handlers import runtime
    from mlcycle.objectstore import ObjectStore

    calls: list[tuple[str, str]] = []
    client = boto3.client("s3")
    client.meta.events.register(
        "before-parameter-build.s3",
        lambda model, params, **_: calls.append((model.name, params.get("Key", ""))),
    )
    monkeypatch.setattr(runtime, "store", lambda: ObjectStore(client))
    return calls


@pytest.fixture
def world(buckets, s3, monkeypatch):
    """A champion on 3,000 base rows; a window of two batches' rows and no bound in days."""
    from handlers import runtime, train

    bookings, hotels = make_training(3000, SEED)
    s3.put_object(Bucket=buckets.data, Key="training/bookings/b.csv", Body=csv_bytes(bookings))
    s3.put_object(Bucket=buckets.data, Key="training/hotels/h.csv", Body=csv_bytes(hotels))
    assert train.handler({}, None)["status"] == "promoted"
    cfg = runtime.config()
    window = HistoryWindow(days=None, rows=2 * BATCH_ROWS)
    monkeypatch.setattr(runtime, "config", lambda: dataclasses.replace(cfg, history_window=window))


def _deliver(s3, buckets, day: int) -> None:
    """Batch b<day>: published by infer, then its complete labels (newest labels: highest id)."""
    from handlers import infer

    batch = make_batch(f"2026-02-{day:02d}", BATCH_ROWS, SEED)
    files = {"bookings": csv_bytes(batch.bookings), "hotels": csv_bytes(batch.hotels)}
    upload_batch(s3, buckets.data, f"b{day}", files)
    assert infer.handler({"batch_id": f"b{day}"}, None)["results"][0]["status"] == "published"
    s3.put_object(Bucket=buckets.data, Key=f"labels/b{day}.csv", Body=csv_bytes(batch.labels))


def _train(reads, payload) -> tuple[dict, list[tuple[str, str]]]:
    """The run's summary and its calls on labelled batches' objects."""
    from handlers import train

    reads.clear()
    summary = train.handler(payload, None)
    assert summary["status"] in ("promoted", "stored_not_promoted"), summary
    return summary, [(op, key) for op, key in reads if key.startswith(BATCH_PREFIXES)]


def _batches_touched(calls) -> set[str]:
    return {key.split("/")[1].split(".")[0] for _, key in calls}


def test_scheduled_training_reads_the_window_whatever_the_history_and_full_reads_all(
    world, buckets, s3, reads
):
    for day in range(1, 6):
        _deliver(s3, buckets, day)

    windowed, calls = _train(reads, SCHEDULED)

    assert windowed["labelled_batches"] == 2
    assert windowed["window"] == {
        "days": None,
        "rows": 600,
        "batches_read": 2,
        "batches_unread": 3,
    }
    assert _batches_touched(calls) == {"b5", "b4"}  # b1-b3 not even asked for
    per_batch = len(calls) / 2

    for day in (6, 7):  # more history: the same work
        _deliver(s3, buckets, day)
    later, more_calls = _train(reads, SCHEDULED)
    assert later["labelled_batches"] == 2 and _batches_touched(more_calls) == {"b7", "b6"}
    assert len(more_calls) == len(calls) == 2 * per_batch

    full, all_calls = _train(reads, {"window": "full", "actor": "operator"})

    assert full["labelled_batches"] == 7
    assert full["window"]["batches_unread"] == 0
    assert _batches_touched(all_calls) == {f"b{day}" for day in range(1, 8)}
    assert len(all_calls) == 7 * per_batch
    train_rows = 3000 + 7 * BATCH_ROWS
    assert full["rows"]["train"] + full["rows"]["holdout"] == train_rows
    assert later["rows"]["train"] + later["rows"]["holdout"] == 3000 + 2 * BATCH_ROWS
