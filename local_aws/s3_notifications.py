"""Which new S3 objects the deployed bucket notifications would have announced.

moto stores notification configurations but sends nothing; the executor lists object
versions (versioned buckets: every overwrite is a new version, as S3 would notify it)
and matches them against each configuration's events and prefix/suffix filters. Told which
objects were written since the last look (moto's request recorder), it looks at those keys
only (a key written once: its current version, from a HEAD): a month of the demo leaves
thousands of versions in the notifying buckets, and listing them all after every write was
most of the executor's own time. The bucket list
and each bucket's notifications are kept until a write on a bucket itself (or one not
understood): every change to them is one, and after it every bucket is looked at again.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import unquote

from botocore.exceptions import ClientError


def matches(config: dict, key: str) -> bool:
    rules = {
        r["Name"].lower(): r["Value"]
        for r in config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    }
    created = any(
        e in ("s3:ObjectCreated:*", "s3:ObjectCreated:Put") for e in config.get("Events", [])
    )
    return (
        created
        and key.startswith(rules.get("prefix", ""))
        and key.endswith(rules.get("suffix", ""))
    )


def written_object(host: str, path: str, buckets: set[str]) -> tuple[str, str] | None:
    """(bucket, key) of an S3 write, path-style or virtual-hosted; None for a request on a
    bucket (or one not understood), after which every bucket is looked at."""
    first, _, rest = path.lstrip("/").partition("/")
    if unquote(first) in buckets:
        bucket, key = unquote(first), unquote(rest)
    else:
        bucket = next((b for b in buckets if host.startswith(b + ".")), "")
        key = unquote(path.lstrip("/"))
    return (bucket, key) if bucket and key else None


class NotificationScanner:
    def __init__(self, s3):
        self.s3 = s3
        self.seen: set[tuple[str, str, str]] = set()
        self._buckets: set[str] | None = None
        self._notifications: dict[str, list[dict]] = {}

    def _names(self, fresh: bool = False) -> set[str]:
        if fresh or self._buckets is None:
            self._buckets = {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}
            self._notifications = {}
        return self._buckets

    def _configs(self, bucket: str) -> list[dict]:
        if bucket not in self._notifications:
            self._notifications[bucket] = self.s3.get_bucket_notification_configuration(
                Bucket=bucket
            ).get("LambdaFunctionConfigurations", [])
        return self._notifications[bucket]

    def _versions(self, bucket: str, key: str | None = None):
        listing = {"Bucket": bucket} if key is None else {"Bucket": bucket, "Prefix": key}
        for page in self.s3.get_paginator("list_object_versions").paginate(**listing):
            for version in page.get("Versions", []):
                if key is None or version["Key"] == key:
                    yield version

    def _written_versions(self, bucket: str, key: str, writes: int):
        """The versions a key's writes since the last look may have made. One write made at
        most its current version, which a HEAD finds: moto lists versions by copying every
        version in the bucket. Several writes, or a key gone since (deleted), are listed."""
        if writes == 1:
            try:
                head = self.s3.head_object(Bucket=bucket, Key=key)
            except ClientError:
                head = None
            if head is not None:
                yield {
                    "Key": key,
                    "VersionId": head.get("VersionId") or "null",
                    "ETag": head["ETag"],
                    "Size": head["ContentLength"],
                    "LastModified": head["LastModified"],
                }
                return
        yield from self._versions(bucket, key)

    def new_objects(
        self, written: list[tuple[str, str]] | None = None
    ) -> list[tuple[str, str, dict, str]]:
        """(function ARN, bucket, object version, notification id) per match, oldest first.
        `written`: the (Host header, path) of the S3 writes since the last call; None looks
        at every version in every bucket."""
        objects = [written_object(host, path, self._names()) for host, path in written or []]
        everything = written is None or None in objects
        names = self._names(fresh=everything)
        keys: dict[str, Counter[str]] = {}
        for bucket, key in filter(None, objects):
            keys.setdefault(bucket, Counter())[key] += 1
        fresh = []
        for name in sorted(names if everything else keys):
            configs = self._configs(name)
            if not configs:
                continue
            versions = (
                self._versions(name)
                if everything
                else (
                    version
                    for key, writes in sorted(keys[name].items())
                    if any(matches(c, key) for c in configs)
                    for version in self._written_versions(name, key, writes)
                )
            )
            for version in versions:
                vid = version.get("VersionId") or "null"
                ident = (
                    name,
                    version["Key"],
                    vid if vid != "null" else f"{version['ETag']}@{version['LastModified']}",
                )
                if ident not in self.seen:
                    self.seen.add(ident)
                    fresh.append((version["LastModified"], name, version, configs))
        return [
            (config["LambdaFunctionArn"], name, version, config.get("Id", "notification"))
            for _, name, version, configs in sorted(fresh, key=lambda f: (f[0], f[1], f[2]["Key"]))
            for config in configs
            if matches(config, version["Key"])
        ]
