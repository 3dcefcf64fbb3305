"""All object I/O on S3: one thin wrapper over a boto3 client, conditional writes, streaming
reads, multipart uploads. Which keys exist is storage.py's business; how bytes move is this
module's."""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import ClientError

from mlcycle.errors import MLCycleError

CONFLICT_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "412")


class PreconditionFailed(Exception):
    """A conditional write lost the race: somebody else wrote the object first."""


class ObjectStore:
    """Thin wrapper over one boto3 S3 client: the only place that talks to S3."""

    def __init__(self, client: Any = None) -> None:
        # boto3 honours AWS_ENDPOINT_URL itself: the same code runs on AWS, LocalStack and moto.
        self.s3 = client or boto3.client("s3")
        self.pins: dict[tuple[str, str], dict] = {}

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, bucket: str, prefix: str, one_level: bool = False) -> Iterator[dict]:
        """The objects under `prefix`; `one_level`: only those directly under it (the keys
        of its subfolders are not sent)."""
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, **({"Delimiter": "/"} if one_level else {})
        ):
            yield from page.get("Contents", [])

    def list_level(self, bucket: str, prefix: str) -> tuple[builtins.list[str], builtins.list[str]]:
        """(folder names, object keys) directly under `prefix`, one level deep."""
        names: builtins.list[str] = []
        keys: builtins.list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        ):
            names += [
                p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])
            ]
            keys += [o["Key"] for o in page.get("Contents", [])]
        return names, keys

    def list_folders(self, bucket: str, prefix: str) -> builtins.list[str]:
        return self.list_level(bucket, prefix)[0]

    def pinned(self, pins: dict[tuple[str, str], dict]) -> ObjectStore:
        """A view of this store whose reads of the pinned (bucket, key)s get exactly the recorded
        object: by version id where the bucket keeps versions, else only while the ETag matches
        (a changed object fails with PreconditionFailed instead of being read)."""
        view = copy.copy(self)
        view.pins = {**self.pins, **pins}
        return view

    def _head_object(self, bucket: str, key: str) -> dict | None:
        try:
            return self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def head(self, bucket: str, key: str) -> dict | None:
        """{"etag", "version_id"} of the current object, or None when there is none."""
        obj = self._head_object(bucket, key)
        if obj is None:
            return None
        version = obj.get("VersionId")
        return {"etag": obj["ETag"], "version_id": None if version in (None, "null") else version}

    def written_at(self, bucket: str, key: str) -> dt.datetime | None:
        """When the current object was written (S3's LastModified), or None when there is none."""
        obj = self._head_object(bucket, key)
        return None if obj is None else obj["LastModified"]

    def size(self, bucket: str, key: str) -> int:
        """Bytes in the object (the pinned revision when there is a pin)."""
        pin = self.pins.get((bucket, key))
        extra = {"VersionId": pin["version_id"]} if pin and pin.get("version_id") else {}
        return int(self.s3.head_object(Bucket=bucket, Key=key, **extra)["ContentLength"])

    def _get_object(self, bucket: str, key: str, extra: dict) -> dict:
        """GetObject of the object, or of its pinned revision (PreconditionFailed when that
        changed or is gone)."""
        pin = self.pins.get((bucket, key))
        if pin and pin.get("version_id"):
            extra = {**extra, "VersionId": pin["version_id"]}
        elif pin:
            extra = {**extra, "IfMatch": pin["etag"]}
        try:
            return self.s3.get_object(Bucket=bucket, Key=key, **extra)
        except ClientError as exc:
            if pin and exc.response["Error"]["Code"] in (*CONFLICT_CODES, "NoSuchVersion"):
                raise PreconditionFailed(
                    f"s3://{bucket}/{key} is not the object recorded ({pin}): it changed or is gone"
                ) from None
            raise

    def open(self, bucket: str, key: str, start: int = 0, end: int | None = None) -> Any:
        """A streaming body: readers pull it in chunks, memory does not grow with the file.
        `start`/`end` (one past the last byte) read a byte range of it."""
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        return self._get_object(bucket, key, extra)["Body"]

    def open_unless(self, bucket: str, key: str, etag: str | None) -> tuple[Any, str]:
        """(streaming body, ETag) as `open` reads it, or (None, `etag`) when the object still
        has ETag `etag`: S3 answers that conditional GET (If-None-Match) without the bytes."""
        try:
            obj = self._get_object(bucket, key, {"IfNoneMatch": etag} if etag else {})
        except ClientError as exc:
            if etag and exc.response["Error"]["Code"] in ("304", "NotModified"):
                return None, etag
            raise
        return obj["Body"], obj["ETag"]

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.open(bucket, key).read()

    def get_with_etag(self, bucket: str, key: str) -> tuple[bytes | None, str | None]:
        """(body, etag), or (None, None) when the object does not exist."""
        try:
            obj = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None, None
            raise
        return obj["Body"].read(), obj["ETag"]

    def get_json(self, bucket: str, key: str) -> tuple[dict | None, str | None]:
        """(document, etag), or (None, None) when the object does not exist."""
        body, etag = self.get_with_etag(bucket, key)
        return (None, None) if body is None else (json.loads(body), etag)

    def put_bytes(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str = "application/octet-stream",
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Write an object.

        With if_match / if_none_match the write fails if somebody else got there first.
        """
        extra = {}
        if if_match:
            extra["IfMatch"] = if_match
        elif if_none_match:
            extra["IfNoneMatch"] = "*"
        try:
            return self.s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra
            )["ETag"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in CONFLICT_CODES:
                raise PreconditionFailed(f"s3://{bucket}/{key} changed since it was read") from None
            raise

    def put_json(
        self,
        bucket: str,
        key: str,
        doc: dict,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        body = json.dumps(doc, indent=1, default=str).encode()
        return self.put_bytes(bucket, key, body, "application/json", if_match, if_none_match)

    def update_json(
        self,
        bucket: str,
        key: str,
        change: Callable[[dict | None], dict],
        attempts: int = 10,
    ) -> dict:
        """Write change(document) (None when absent) under the ETag it was read with, or only
        while the object is still absent; when another writer got in between, read and change
        again, so neither loses the other's change. Returns what was written."""
        for _ in range(attempts):
            doc, etag = self.get_json(bucket, key)
            updated = change(doc)
            try:
                self.put_json(bucket, key, updated, if_match=etag, if_none_match=etag is None)
            except PreconditionFailed:
                continue
            return updated
        raise MLCycleError(
            f"s3://{bucket}/{key} changed under every one of {attempts} attempts to update it; "
            "retry later"
        )

    def append_line(self, bucket: str, key: str, line: dict, attempts: int = 20) -> None:
        """Append one JSON line; S3 has no append, so read-modify-write under IfMatch and retry."""
        for _ in range(attempts):
            try:
                obj = self.s3.get_object(Bucket=bucket, Key=key)
                body, etag = obj["Body"].read(), obj["ETag"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                    raise
                body, etag = b"", None
            try:
                self.put_bytes(
                    bucket,
                    key,
                    body + json.dumps(line, default=str).encode() + b"\n",
                    "application/x-ndjson",
                    if_match=etag,
                    if_none_match=etag is None,
                )
                return
            except PreconditionFailed:
                continue
        raise PreconditionFailed(
            f"s3://{bucket}/{key}: gave up appending after {attempts} conflicting writers"
        )

    def move_prefix(self, bucket: str, src_prefix: str, dst_prefix: str) -> builtins.list[str]:
        """Copy every object under src_prefix to dst_prefix, then delete the originals.

        Nothing is lost.
        """
        moved: builtins.list[str] = []
        for obj in list(self.list(bucket, src_prefix)):
            dst = dst_prefix + obj["Key"][len(src_prefix) :]
            self.move(bucket, obj["Key"], dst)
            moved.append(dst)
        return moved

    def move(self, bucket: str, key: str, dst: str) -> None:
        """Copy, then delete the original; safe to race: a concurrent mover (a duplicate
        delivery) that took the object first has already put it at dst."""
        try:
            self.copy(bucket, key, dst)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            return
        self.delete(bucket, key)

    def copy(self, bucket: str, source_key: str, key: str) -> None:
        self.s3.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source_key}
        )

    def delete(self, bucket: str, key: str) -> None:
        self.s3.delete_object(Bucket=bucket, Key=key)

    def read_lines(self, bucket: str, key: str, last: int | None = None) -> builtins.list[dict]:
        """The lines of a JSON-lines object (the `last` N when given); [] when it does not exist."""
        if not self.exists(bucket, key):
            return []
        lines = [line for line in self.get_bytes(bucket, key).decode().splitlines() if line.strip()]
        return [json.loads(line) for line in (lines if last is None else lines[-last:])]


class MultipartWriter:
    """Streams one object in parts so a large predictions file never sits in memory whole.

    Nothing is visible under the key until complete(); abort() leaves no object behind. A full
    part is uploaded by a thread while the caller produces the next one (the upload waits on
    the network, not the CPU); at most one upload is in flight, so memory holds two parts.
    """

    PART_BYTES = 8 * 1024 * 1024

    def __init__(
        self, store: ObjectStore, bucket: str, key: str, content_type: str = "text/csv"
    ) -> None:
        self.s3, self.bucket, self.key = store.s3, bucket, key
        self.upload_id = self.s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type
        )["UploadId"]
        self.parts: list[dict] = []
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.bytes_written = 0
        self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload")
        self._pending: Future | None = None

    def write(self, data: bytes) -> None:
        self.buffer.append(data)
        self.buffered += len(data)
        if self.buffered >= self.PART_BYTES:
            self._flush()

    def _upload(self, number: int, body: bytes) -> dict:
        resp = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        return {"ETag": resp["ETag"], "PartNumber": number}

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.parts.append(pending.result())  # an upload's error is raised here

    def _flush(self) -> None:
        if not self.buffer:
            return
        body = b"".join(self.buffer)
        self.buffer, self.buffered = [], 0
        self._wait()
        number = len(self.parts) + 1
        self._pending = self._uploader.submit(self._upload, number, body)
        self.bytes_written += len(body)

    def complete(self) -> int:
        self._flush()
        self._wait()
        self._uploader.shutdown()
        if not self.parts:  # S3 refuses a multipart upload with no parts
            self.parts.append(self._upload(1, b""))
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )
        return self.bytes_written

    def abort(self) -> None:
        self._uploader.shutdown(wait=True, cancel_futures=True)
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
