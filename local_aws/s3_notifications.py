"""Which new S3 objects the deployed bucket notifications would have announced.

moto stores notification configurations but sends nothing; the executor lists object
versions (versioned buckets: every overwrite is a new version, as S3 would notify it)
and matches them against each configuration's events and prefix/suffix filters.
"""

from __future__ import annotations


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


class NotificationScanner:
    def __init__(self, s3):
        self.s3 = s3
        self.seen: set[tuple[str, str, str]] = set()

    def new_objects(self) -> list[tuple[str, str, dict, str]]:
        """(function ARN, bucket, object version, notification id) per match, oldest first."""
        fresh = []
        for bucket in self.s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            configs = self.s3.get_bucket_notification_configuration(Bucket=name).get(
                "LambdaFunctionConfigurations", []
            )
            if not configs:
                continue
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=name):
                for version in page.get("Versions", []):
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
