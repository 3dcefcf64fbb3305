"""Reading a batch's _SUCCESS manifest: a missing publication time comes from the object."""

import json

from mlcycle import storage
from mlcycle.scoring_steps import published_manifest
from tests.unit.breaker_world import BUCKETS


def _put(store, key: str, doc) -> None:
    store.s3.put_object(Bucket=BUCKETS.predictions, Key=key, Body=json.dumps(doc).encode())


def test_a_manifest_without_published_at_gets_its_objects_write_time(world):
    store, _, _ = world
    key = storage.success_key("b-1")
    _put(store, key, {"batch_id": "b-1", "model_version": "v0001"})
    written = store.s3.head_object(Bucket=BUCKETS.predictions, Key=key)["LastModified"]
    assert published_manifest(store, BUCKETS, "b-1")["published_at"] == written.isoformat()


def test_a_manifest_that_is_not_an_object_is_returned_as_read(world):
    store, _, _ = world
    _put(store, storage.success_key("b-2"), ["not", "a", "manifest"])
    assert published_manifest(store, BUCKETS, "b-2") == ["not", "a", "manifest"]
