"""Every S3 key the platform uses, in one place (object I/O is objectstore.py).

Keys are deterministic (a re-delivered event rewrites the same objects) and their
layout is documented in the design: changing one here changes it everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass

from mlcycle.objectstore import ObjectStore

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
# A model version's folder under models/<name>/: v0001, v0002 ...
MODEL_VERSION = re.compile(r"^v(\d{4,9})$")
# A label increment's name under labels/<batch_id>/ (checked to be a real date as well).
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Buckets:
    data: str
    models: str
    predictions: str
    monitoring: str

    @classmethod
    def from_env(cls) -> Buckets:
        variables = ("DATA_BUCKET", "MODEL_BUCKET", "PREDICTIONS_BUCKET", "MONITORING_BUCKET")
        names = {v: os.environ.get(v, "") for v in variables}
        missing = [k for k, v in names.items() if not v]
        if missing:
            raise RuntimeError(f"environment variables not set: {', '.join(missing)}")
        return cls(
            names["DATA_BUCKET"],
            names["MODEL_BUCKET"],
            names["PREDICTIONS_BUCKET"],
            names["MONITORING_BUCKET"],
        )


def check_batch_id(batch_id: str) -> str:
    if not BATCH_ID.match(batch_id or ""):
        raise ValueError(f"batch_id {batch_id!r} must match {BATCH_ID.pattern}")
    return batch_id


def is_iso_date(text: str) -> bool:
    """`YYYY-MM-DD` naming a real date; fromisoformat alone also takes `20260110`."""
    if not ISO_DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# data bucket
TRAINING = "training/"
INCOMING = "incoming/"
LABELS = "labels/"
HELD = "held/"
QUARANTINE = "quarantine/"


def training_prefix(source: str) -> str:
    return f"{TRAINING}{source}/"


def training_keys(store: ObjectStore, bucket: str, source: str) -> list[str]:
    """Every CSV file of a training source, in key order."""
    return sorted(
        o["Key"] for o in store.list(bucket, training_prefix(source)) if o["Key"].endswith(".csv")
    )


def incoming_prefix(batch_id: str) -> str:
    return f"{INCOMING}{batch_id}/"


def source_key(prefix: str, source: str) -> str:
    """A source's file in a batch folder (incoming/, held/ or quarantine/)."""
    return f"{prefix}{source}.csv"


def incoming_key(batch_id: str, source: str) -> str:
    return source_key(incoming_prefix(batch_id), source)


def labels_key(batch_id: str) -> str:
    """A batch's complete labels."""
    return f"{LABELS}{batch_id}.csv"


def label_increments_prefix(batch_id: str) -> str:
    return f"{LABELS}{batch_id}/"


def label_increment_key(batch_id: str, date_iso: str) -> str:
    """The labels of a batch that became known by `date_iso` and were in no earlier increment."""
    if not is_iso_date(date_iso):
        raise ValueError(f"label increment date {date_iso!r} must be an ISO date YYYY-MM-DD")
    return f"{label_increments_prefix(check_batch_id(batch_id))}{date_iso}.csv"


def held_prefix(batch_id: str) -> str:
    return f"{HELD}{batch_id}/"


def held_note_key(batch_id: str) -> str:
    return f"{held_prefix(batch_id)}held.json"


def quarantine_prefix(batch_id: str) -> str:
    return f"{QUARANTINE}{batch_id}/"


def reupload_prefix(batch_id: str, tag: str) -> str:
    """Where a changed re-upload after publication is kept, beside the batch's quarantine."""
    return f"{quarantine_prefix(batch_id)}reupload-{tag}/"


def reason_key(folder: str) -> str:
    """The reason.json beside inputs set aside in `folder`."""
    return f"{folder}reason.json"


def quarantine_reason_key(batch_id: str) -> str:
    return reason_key(quarantine_prefix(batch_id))


INVALID_UPLOADS = f"{QUARANTINE}_invalid-keys/"


def invalid_upload_key(key: str) -> str:
    """Where an upload under incoming/ that names no valid batch is set aside, keeping its path."""
    return f"{INVALID_UPLOADS}{hashlib.sha256(key.encode()).hexdigest()[:12]}/{key}"


def invalid_upload_reason_key(key: str) -> str:
    return f"{invalid_upload_key(key)}.reason.json"


def parse_incoming_key(key: str) -> tuple[str, str] | None:
    """`incoming/<batch_id>/<source>.csv` -> (batch_id, source); anything else -> None."""
    parts = key.split("/")
    if (
        len(parts) == 3
        and f"{parts[0]}/" == INCOMING
        and parts[2].endswith(".csv")
        and BATCH_ID.match(parts[1])
    ):
        return parts[1], parts[2][: -len(".csv")]
    return None


def parse_label_increment_key(key: str) -> tuple[str, str] | None:
    """`labels/<batch_id>/<YYYY-MM-DD>.csv` -> (batch_id, date); anything else -> None."""
    parts = key.split("/")
    if (
        len(parts) == 3
        and f"{parts[0]}/" == LABELS
        and parts[2].endswith(".csv")
        and BATCH_ID.match(parts[1])
        and is_iso_date(parts[2][: -len(".csv")])
    ):
        return parts[1], parts[2][: -len(".csv")]
    return None


def parse_labels_key(key: str) -> str | None:
    """`labels/<batch_id>.csv` (complete) or `labels/<batch_id>/<YYYY-MM-DD>.csv` (an
    increment) -> batch_id; anything else -> None."""
    parts = key.split("/")
    if len(parts) == 2 and f"{parts[0]}/" == LABELS and parts[1].endswith(".csv"):
        batch_id = parts[1][: -len(".csv")]
        return batch_id if BATCH_ID.match(batch_id) else None
    increment = parse_label_increment_key(key)
    return increment[0] if increment else None


# model bucket
def model_prefix(name: str) -> str:
    return f"models/{name}/"


def model_file_key(name: str, version: str) -> str:
    return f"models/{name}/{version}/model.joblib"


def metadata_key(name: str, version: str) -> str:
    return f"models/{name}/{version}/metadata.json"


def aliases_key(name: str) -> str:
    return f"models/{name}/aliases.json"


# predictions bucket
PREDICTIONS = "predictions/"
PROBATION = "probation/"
SUCCESS = "_SUCCESS"


def _output_prefix(batch_id: str, probation: bool) -> str:
    return f"{PROBATION if probation else PREDICTIONS}{batch_id}/"


def predictions_key(batch_id: str, probation: bool = False) -> str:
    return f"{_output_prefix(batch_id, probation)}predictions.csv"


def success_key(batch_id: str, probation: bool = False) -> str:
    return f"{_output_prefix(batch_id, probation)}{SUCCESS}"


def lease_key(batch_id: str, probation: bool = False) -> str:
    """Held by the one invocation that scores the batch (duplicate deliveries wait it out)."""
    return f"{_output_prefix(batch_id, probation)}_LEASE"


def shards_prefix(batch_id: str, plan_id: str) -> str:
    """A sharded run's work: its plan, each shard's result, part and key hashes. The parts a
    _SUCCESS lists stay; the rest is removed once the batch is published or refused."""
    return f"{PREDICTIONS}{batch_id}/shards/{plan_id}/"


def shard_plan_key(batch_id: str, plan_id: str) -> str:
    return f"{shards_prefix(batch_id, plan_id)}plan.json"


def shard_result_key(batch_id: str, plan_id: str, index: int) -> str:
    return f"{shards_prefix(batch_id, plan_id)}result-{index:05d}.json"


def shard_part_key(batch_id: str, plan_id: str, index: int) -> str:
    return f"{shards_prefix(batch_id, plan_id)}part-{index:05d}.csv"


def shard_keys_key(batch_id: str, plan_id: str, index: int, column: int) -> str:
    """The key hashes of a unique column in one shard, for the whole-file duplicate check."""
    return f"{shards_prefix(batch_id, plan_id)}keys-{column}-{index:05d}.bin"


def shard_attribute_key(batch_id: str, plan_id: str, source: int, file: str) -> str:
    """A file of an attribute source's on-disk index, built once by the planning invocation."""
    return f"{shards_prefix(batch_id, plan_id)}attr-{source}-{file}.bin"


def shard_lease_key(batch_id: str, plan_id: str, index: int) -> str:
    return f"{shards_prefix(batch_id, plan_id)}{index:05d}/_LEASE"


def published_part_key(batch_id: str, index: int) -> str:
    """A probation run's part, copied on publication: the published output never shares an
    object with a probation output, which a refuted candidate's cleanup deletes."""
    return f"{_output_prefix(batch_id, False)}part-{index:05d}.csv"


def prediction_keys(manifest: dict) -> list[str]:
    """The prediction files a _SUCCESS manifest covers: the parts of a sharded run, in order,
    or its one predictions.csv."""
    return list(manifest.get("parts") or [manifest["predictions_key"]])


def parse_success_key(key: str) -> str | None:
    """`predictions/<batch_id>/_SUCCESS` or `probation/<batch_id>/_SUCCESS` -> batch_id."""
    parts = key.split("/")
    if (
        len(parts) == 3
        and f"{parts[0]}/" in (PREDICTIONS, PROBATION)
        and parts[2] == SUCCESS
        and BATCH_ID.match(parts[1])
    ):
        return parts[1]
    return None


def published_batches(store: ObjectStore, bucket: str) -> set[str]:
    """Batch ids with a published `predictions/<batch_id>/_SUCCESS`, from one listing."""
    found = (parse_success_key(o["Key"]) for o in store.list(bucket, PREDICTIONS))
    return {b for b in found if b is not None}


# monitoring bucket
REPORTS = "reports/"


def report_key(batch_id: str) -> str:
    return f"{REPORTS}{batch_id}.json"


def monitor_run_key(batch_id: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Marks that one version of a triggering object (a _SUCCESS, a labels file) was monitored."""
    trigger = hashlib.sha256(f"{key}|{version_id}|{etag}".encode()).hexdigest()[:16]
    return f"{REPORTS}_runs/{batch_id}/{trigger}"


def failures_key(batch_id: str) -> str:
    """How often scoring the batch failed unexpectedly, by kind of failure."""
    return f"failures/{batch_id}.json"


BREAKER_STATE_KEY = "breaker/state.json"
BREAKER_EVENTS_KEY = "breaker/events.jsonl"
LIMITS = "limits/"


def window_key(model_name: str) -> str:
    """The monitor's window of recent batches (``mlcycle.monitoring.window``)."""
    return f"{LIMITS}{model_name}/window.json"


def batch_folders(store: ObjectStore, bucket: str, prefix: str) -> list[str]:
    """Batch ids with a folder under `prefix` (incoming/, held/, predictions/ ...), sorted."""
    return sorted(b for b in store.list_folders(bucket, prefix) if BATCH_ID.match(b))


def report_times(store: ObjectStore, bucket: str) -> dict[str, dt.datetime]:
    """{batch_id: LastModified} of the monitoring reports."""
    return batch_times(store, bucket, REPORTS, ".json")


def label_times(store: ObjectStore, bucket: str) -> dict[str, dt.datetime]:
    """{batch_id: LastModified} of the complete labels files."""
    return batch_times(store, bucket, LABELS, ".csv")


def label_update_times(store: ObjectStore, bucket: str) -> dict[str, dt.datetime]:
    """{batch_id: newest LastModified} over each batch's complete labels and increments."""
    found: dict[str, dt.datetime] = {}
    for obj in store.list(bucket, LABELS):
        batch_id = parse_labels_key(obj["Key"])
        if batch_id and (batch_id not in found or obj["LastModified"] > found[batch_id]):
            found[batch_id] = obj["LastModified"]
    return found


def batch_times(
    store: ObjectStore, bucket: str, prefix: str, suffix: str
) -> dict[str, dt.datetime]:
    """{batch_id: LastModified} of `<prefix><batch_id><suffix>` objects (labels/, reports/).
    One level: the folders beside them (label increments, a report's monitor-run markers:
    several a batch) are not listed."""
    found: dict[str, dt.datetime] = {}
    for obj in store.list(bucket, prefix, one_level=True):
        name = obj["Key"][len(prefix) :]
        if name.endswith(suffix) and BATCH_ID.match(name[: -len(suffix)]):
            found[name[: -len(suffix)]] = obj["LastModified"]
    return found
