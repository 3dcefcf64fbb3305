"""local_aws.s3_notifications: the objects written are looked up, not every version stored,
and the events are the ones a look at every version would give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from local_aws.s3_notifications import NotificationScanner, written_object

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INCOMING = {
    "Id": "incoming_to_infer",
    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:infer",
    "Events": ["s3:ObjectCreated:*"],
    "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "incoming/"}]}},
}


class FakeS3:
    """Versions by bucket; counts the versions each listing returned and the HEADs."""

    def __init__(self, configs: dict[str, list[dict]]):
        self.configs = configs
        self.versions: dict[str, list[dict]] = {name: [] for name in configs}
        self.deleted: set[tuple[str, str]] = set()  # a delete marker is the current version
        self.listed = self.heads = 0
        self.configuration_reads = 0

    def put(self, bucket: str, key: str) -> None:
        n = sum(len(v) for v in self.versions.values())
        self.versions[bucket].append(
            {"Key": key, "VersionId": f"v{n}", "ETag": f'"{n}"', "Size": 1,
             "LastModified": T0 + timedelta(seconds=n)}
        )  # fmt: skip

    def head_object(self, Bucket, Key):
        self.heads += 1
        versions = [v for v in self.versions[Bucket] if v["Key"] == Key]
        if not versions or (Bucket, Key) in self.deleted:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        latest = versions[-1]
        return {
            "VersionId": latest["VersionId"],
            "ETag": latest["ETag"],
            "ContentLength": latest["Size"],
            "LastModified": latest["LastModified"],
        }

    def list_buckets(self):
        self.configuration_reads += 1
        return {"Buckets": [{"Name": name} for name in self.versions]}

    def get_bucket_notification_configuration(self, Bucket):
        self.configuration_reads += 1
        return {"LambdaFunctionConfigurations": self.configs[Bucket]}

    def get_paginator(self, _operation):
        return self

    def paginate(self, Bucket, Prefix=""):
        found = [v for v in self.versions[Bucket] if v["Key"].startswith(Prefix)]
        self.listed += len(found)
        yield {"Versions": found}


def _scanners():
    s3 = FakeS3({"data": [INCOMING], "models": []})
    return s3, NotificationScanner(s3), NotificationScanner(s3)


def test_written_objects_only_are_listed_and_give_the_events_of_a_full_look():
    s3, targeted, full = _scanners()
    for key in ("training/a.csv", "incoming/b1/bookings.csv", "incoming/b1/bookings.csvx"):
        s3.put("data", key)
    s3.put("models", "incoming/not-notified.csv")
    writes = [
        ("127.0.0.1:5000", "/data/training/a.csv"),
        ("127.0.0.1:5000", "/models/incoming/not-notified.csv"),
        ("data.s3.localhost:5000", "/incoming/b1/bookings.csv"),  # virtual-hosted
        ("127.0.0.1:5000", "/data/incoming/b1/bookings.csvx"),
    ]
    assert targeted.new_objects(writes) == full.new_objects()
    assert [v["Key"] for _, _, v, _ in targeted.new_objects(None)] == []  # all seen already


def test_a_key_written_once_is_looked_up_by_head_and_gives_the_event_of_a_full_look():
    s3, targeted, full = _scanners()
    for day in range(20):
        s3.put("data", f"incoming/day-{day}/bookings.csv")
    targeted.new_objects(None)
    full.new_objects(None)
    s3.put("data", "incoming/day-20/bookings.csv")
    s3.listed = 0
    found = targeted.new_objects([("127.0.0.1:5000", "/data/incoming/day-20/bookings.csv")])
    assert found == full.new_objects()
    assert [v["Key"] for _, _, v, _ in found] == ["incoming/day-20/bookings.csv"]
    assert (s3.heads, s3.listed) == (1, 20 + 1)  # the listing is the full look's


def test_a_key_written_twice_since_the_last_look_gives_an_event_per_version():
    s3, targeted, _ = _scanners()
    s3.put("data", "incoming/b1/bookings.csv")
    s3.put("data", "incoming/b1/bookings.csv")
    key = ("h:1", "/data/incoming/b1/bookings.csv")
    found = targeted.new_objects([key, key])
    assert [v["VersionId"] for _, _, v, _ in found] == ["v0", "v1"]
    assert s3.heads == 0


def test_a_key_deleted_after_its_one_write_still_gives_its_event():
    s3, targeted, _ = _scanners()
    s3.put("data", "incoming/b1/bookings.csv")
    s3.deleted.add(("data", "incoming/b1/bookings.csv"))
    found = targeted.new_objects([("h:1", "/data/incoming/b1/bookings.csv")])
    assert [(v["Key"], v["VersionId"]) for _, _, v, _ in found] == [
        ("incoming/b1/bookings.csv", "v0")
    ]
    assert s3.heads == 1 and s3.listed == 1


def test_a_write_on_a_bucket_looks_at_every_object():
    s3, targeted, _ = _scanners()
    s3.put("data", "incoming/b2/hotels.csv")
    found = targeted.new_objects([("127.0.0.1:5000", "/data")])
    assert [v["Key"] for _, _, v, _ in found] == ["incoming/b2/hotels.csv"]


def test_written_object_reads_both_addressing_styles():
    buckets = {"data", "data-2"}
    assert written_object("h:1", "/data/incoming/a%20b.csv", buckets) == (
        "data",
        "incoming/a b.csv",
    )
    assert written_object("data-2.s3.local:1", "/k/x.csv", buckets) == ("data-2", "k/x.csv")
    assert written_object("h:1", "/data", buckets) is None
    assert written_object("h:1", "/unknown/k", buckets) is None


def test_buckets_and_notifications_are_read_again_after_a_write_on_a_bucket_only():
    s3, targeted, _ = _scanners()
    targeted.new_objects(None)
    s3.configuration_reads = 0
    for day in range(3):
        s3.put("data", f"incoming/day-{day}/bookings.csv")
        found = targeted.new_objects([("h:1", f"/data/incoming/day-{day}/bookings.csv")])
        assert [v["Key"] for _, _, v, _ in found] == [f"incoming/day-{day}/bookings.csv"]
    assert s3.configuration_reads == 0

    s3.configs["data"] = []  # PUT /data?notification: no function is notified any more
    assert targeted.new_objects([("h:1", "/data")]) == []
    s3.put("data", "incoming/day-3/bookings.csv")
    assert targeted.new_objects([("h:1", "/data/incoming/day-3/bookings.csv")]) == []
    assert s3.configuration_reads == 3  # the bucket list and each bucket's notifications
