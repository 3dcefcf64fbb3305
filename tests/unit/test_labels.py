"""Labels as they arrive: the complete file, daily increments, their keys and the reader."""

import datetime as dt

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from mlcycle import storage
from mlcycle.config import load_config
from mlcycle.errors import DataContractError
from mlcycle.labels import read_labels
from mlcycle.objectstore import ObjectStore
from tests.conftest import MODEL_DIR

BUCKET = "data"
CFG = load_config(MODEL_DIR / "model_config.yml")
KEYS = pd.Series(["h1", "h2", "h3", "h4"], index=[10, 11, 12, 13])


@pytest.fixture
def store(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        yield ObjectStore(s3)


def put(store, key, text):
    store.put_bytes(BUCKET, key, text.encode())


def read(store, batch_id="b1"):
    return read_labels(store, BUCKET, CFG, batch_id, KEYS)


def values(labels):
    return labels.values.where(labels.values.notna(), None).tolist()


def test_increment_keys_are_iso_dates_under_the_batch():
    assert storage.label_increment_key("b1", "2026-01-10") == "labels/b1/2026-01-10.csv"
    for date in ("2026-1-10", "20260110", "2026-02-30", "2026-01-10T00:00", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            storage.label_increment_key("b1", date)
    with pytest.raises(ValueError, match="batch_id"):
        storage.label_increment_key("../b1", "2026-01-10")


def test_labels_keys_parse_to_their_batch_complete_or_increment():
    assert storage.parse_labels_key("labels/b1.csv") == "b1"
    assert storage.parse_labels_key("labels/b1/2026-01-10.csv") == "b1"
    assert storage.parse_label_increment_key("labels/b1/2026-01-10.csv") == ("b1", "2026-01-10")
    assert storage.parse_label_increment_key("labels/b1.csv") is None
    for key in (
        "labels/b1/notes.txt",
        "labels/b1/2026-02-30.csv",
        "labels/b1/20260110.csv",
        "labels/b1/x/2026-01-10.csv",
        "labels/.b1/2026-01-10.csv",
        "labels/b1.json",
        "incoming/b1/2026-01-10.csv",
    ):
        assert storage.parse_labels_key(key) is None, key


class ListedStore:
    """Only what the listing-based catalogue functions read: keys and their LastModified."""

    def __init__(self, objects):
        self.objects = objects
        self.sent = 0

    def list(self, bucket, prefix, one_level=False):
        found = [
            {"Key": k, "LastModified": t}
            for k, t in self.objects.items()
            if k.startswith(prefix) and not (one_level and "/" in k[len(prefix) :])
        ]
        self.sent += len(found)
        return found


def test_label_update_times_take_the_newest_object_of_each_batch():
    day = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    listed = ListedStore(
        {
            "labels/b1/2026-01-08.csv": day,
            "labels/b1/2026-01-09.csv": day + dt.timedelta(days=1),
            "labels/b1.csv": day + dt.timedelta(hours=1),
            "labels/b2/2026-01-09.csv": day,
            "labels/b3.csv": day,
            "labels/b4/readme.txt": day + dt.timedelta(days=9),
        }
    )
    assert storage.label_update_times(listed, BUCKET) == {
        "b1": day + dt.timedelta(days=1),
        "b2": day,
        "b3": day,
    }
    # Training reads the complete file of each batch it lists: increments are not listed.
    listed.sent = 0
    assert storage.label_times(listed, BUCKET) == {
        "b1": day + dt.timedelta(hours=1),
        "b3": day,
    }
    assert listed.sent == 2


def test_report_times_list_the_reports_and_not_the_monitor_run_markers_beside_them(store):
    for batch_id in ("b1", "b2"):
        store.put_json(BUCKET, storage.report_key(batch_id), {})
        for n in range(30):
            store.put_json(BUCKET, storage.monitor_run_key(batch_id, f"k{n}", None, "e"), {})
    store.put_json(BUCKET, "reports/b3.txt", {})
    listed = []
    store.s3.meta.events.register(
        "after-call.s3.ListObjectsV2",
        lambda parsed, **_: listed.extend(parsed.get("Contents", [])),
    )
    assert set(storage.report_times(store, BUCKET)) == {"b1", "b2"}
    assert sorted(o["Key"] for o in listed) == [
        "reports/b1.json",
        "reports/b2.json",
        "reports/b3.txt",
    ]


def test_no_label_object_means_no_labels(store):
    put(store, "labels/b10.csv", "hotel_id,status\nh1,booked\n")
    put(store, "labels/b10/2026-01-10.csv", "hotel_id,status\nh1,booked\n")
    assert read(store) is None


def test_complete_labels_align_with_the_keys_first_duplicate_wins(store):
    put(store, "labels/b1.csv", "hotel_id,status\nh2,cancelled\nh1,booked\nh2,fulfilled\nh9,x\n")
    labels = read(store)
    assert values(labels) == ["booked", "cancelled", None, None]
    assert list(labels.values.index) == list(KEYS.index)
    assert (labels.complete, labels.as_of, labels.increments) == (True, None, 0)
    assert labels.keys == ["labels/b1.csv"]


def test_increments_accumulate_and_the_newest_date_wins(store):
    # Uploaded out of date order: the date in the name decides, not the upload.
    put(store, "labels/b1/2026-01-11.csv", "hotel_id,status\nh2,fulfilled\nh3,booked\n")
    put(store, "labels/b1/2026-01-10.csv", "hotel_id,status\nh1,cancelled\nh2,cancelled\n")
    put(store, "labels/b1/2026-01-12.csv", "hotel_id,status\n")
    labels = read(store)
    assert values(labels) == ["cancelled", "fulfilled", "booked", None]
    assert np.isnan(labels.values.iloc[3])
    assert (labels.complete, labels.as_of, labels.increments) == (False, "2026-01-12", 3)
    assert labels.keys == [
        "labels/b1/2026-01-10.csv",
        "labels/b1/2026-01-11.csv",
        "labels/b1/2026-01-12.csv",
    ]


def test_the_complete_file_wins_over_increments(store):
    put(store, "labels/b1/2026-01-10.csv", "hotel_id,status\nh1,cancelled\n")
    put(store, "labels/b1.csv", "hotel_id,status\nh1,booked\nh4,fulfilled\n")
    labels = read(store)
    assert values(labels) == ["booked", None, None, "fulfilled"]
    assert (labels.complete, labels.as_of, labels.keys) == (True, None, ["labels/b1.csv"])


@pytest.mark.parametrize("name", ["2026-1-10.csv", "2026-01-10.txt", "notes/2026-01-10.csv"])
def test_a_malformed_increment_name_is_refused_naming_the_object(store, name):
    put(store, "labels/b1/2026-01-10.csv", "hotel_id,status\nh1,cancelled\n")
    put(store, f"labels/b1/{name}", "hotel_id,status\nh1,booked\n")
    with pytest.raises(DataContractError, match="YYYY-MM-DD") as caught:
        read(store)
    assert caught.value.file == f"s3://{BUCKET}/labels/b1/{name}"


@pytest.mark.parametrize(
    "key, text, column",
    [
        ("labels/b1/2026-01-10.csv", "hotel_id,state\nh1,booked\n", "status"),
        ("labels/b1/2026-01-10.csv", "id,status\nh1,booked\n", "hotel_id"),
        ("labels/b1.csv", "", "hotel_id"),
    ],
)
def test_a_file_without_the_join_key_or_target_is_refused(store, key, text, column):
    put(store, key, text)
    with pytest.raises(DataContractError, match="join key and the target") as caught:
        read(store)
    assert (caught.value.file, caught.value.column) == (f"s3://{BUCKET}/{key}", column)
