"""ObjectStore's conditional read-modify-write of a JSON object, on moto's in-process S3."""

import boto3
import pytest
from moto import mock_aws

from mlcycle.errors import MLCycleError
from mlcycle.objectstore import ObjectStore

REGION = "eu-west-1"
BUCKET = "monitoring-b"
KEY = "limits/m/window.json"


@pytest.fixture
def store(monkeypatch):
    # mock_aws brings fake credentials of its own; an endpoint would route around it.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield ObjectStore(s3)


def add(name):
    """A change that appends `name` to the document's list (creating it when absent)."""
    return lambda doc: {"names": [*(doc or {"names": []})["names"], name]}


def interrupted(store, change, writes):
    """`change`, but another writer puts each of `writes` between our read and our write."""
    pending = list(writes)

    def changed(doc):
        if pending:
            store.update_json(BUCKET, KEY, add(pending.pop(0)))
        return change(doc)

    return changed


def test_the_change_sees_none_when_absent_and_the_document_when_present(store):
    seen = []

    def change(doc):
        seen.append(doc)
        return add(f"n{len(seen)}")(doc)

    store.update_json(BUCKET, KEY, change)
    store.update_json(BUCKET, KEY, change)
    assert seen == [None, {"names": ["n1"]}]
    assert store.get_json(BUCKET, KEY)[0] == {"names": ["n1", "n2"]}


@pytest.mark.parametrize("existing", [None, ["a"]], ids=["absent", "present"])
def test_a_write_between_read_and_write_is_kept_and_ours_retried_on_top(store, existing):
    if existing is not None:
        store.put_json(BUCKET, KEY, {"names": existing})
    written = store.update_json(BUCKET, KEY, interrupted(store, add("ours"), ["theirs"]))
    expected = {"names": [*(existing or []), "theirs", "ours"]}
    assert written == expected
    assert store.get_json(BUCKET, KEY)[0] == expected


def test_losing_every_attempt_raises_an_error_naming_the_object(store):
    writes = [f"w{i}" for i in range(3)]
    with pytest.raises(MLCycleError, match=f"s3://{BUCKET}/{KEY} .* 3 attempts"):
        store.update_json(BUCKET, KEY, interrupted(store, add("ours"), writes), attempts=3)
    assert store.get_json(BUCKET, KEY)[0] == {"names": writes}
