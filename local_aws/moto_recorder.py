"""Pick up the asynchronous Lambda invokes that handlers send to moto_server.

What moto does with `lambda.invoke(InvocationType='Event')` (moto 5.2, server mode):
* default (`lambda.use_docker` true): it tries to run the function in Docker. Without a
  Docker engine it answers 202 all the same and writes one line "error running docker: ..."
  into the function's log group: the payload is kept nowhere.
* with `/moto-api/config` {"lambda": {"use_docker": false}}: a different backend answers
  (functions created before the switch become invisible to it), echoes the payload back
  and keeps no record either. `/moto-api/data.json` lists model attributes, not
  invocations (and in moto 5.2.1 it fails with HTTP 500 once Lambda functions exist).
* moto's request recorder (`/moto-api/recorder/start-recording`, `download-recording`,
  `reset-recording`) appends every request it serves, headers and body, to a file
  (MOTO_RECORDER_FILEPATH, set by emulator.running_emulator). That is the readable record:
  the executor starts it, and after each handler run drains it for
  `POST /2015-03-31/functions/<name>/invocations` with `X-Amz-Invocation-Type: Event`
  (and the legacy `invoke-async`), then runs those invocations itself. It also reads the
  PutMetricData calls, whose datapoints make the alarms' periods (alarms.py), and notes
  the S3 writes (PUT and POST: their host and path), so only the objects written are looked
  up for notifications, not every version in the buckets. And it names the services whose
  configuration a request may have changed (`RECONFIGURABLE`): the executor keeps what it read
  of rules, functions and alarms until then (control_plane.py).
The recording holds every request body (S3 uploads too), so it is reset at each drain.
Between a download and a reset, a request served meanwhile would be lost: where requests
come concurrently (the live local cloud, live.py) the recorder is given the file, which moto
opens anew for every entry, and drains it by renaming it away instead. The demo gives it the
file too, with nothing in flight at a drain: no request to moto at all (1,300 a demo).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_INVOKE_ASYNC = re.compile(r"^/2014-11-13/functions/(?P<name>[^/]+)/invoke-async/?$")
_SIGNING_SERVICE = re.compile(r"Credential=[^/,]*/[^/,]*/[^/,]*/(?P<service>[^/,]*)/aws4_request")
_QUERY_ACTION = re.compile(rb"(?:^|&)Action=(?P<action>[A-Za-z]+)")


def signing_service(authorization: str) -> str | None:
    """The SigV4 signing name (s3, lambda, monitoring...) an Authorization header names."""
    signed = _SIGNING_SERVICE.search(authorization)
    return signed.group("service") if signed else None


# The services whose configuration the executor keeps (by SigV4 signing name).
RECONFIGURABLE = ("events", "lambda", "monitoring")
# Their calls that change nothing of it, besides reads (Get*, List*, Describe*) and invokes.
_CHANGES_NOTHING = ("PutMetricData", "PutEvents")


@dataclass(frozen=True)
class AsyncInvoke:
    function: str  # name or ARN, as the caller gave it
    payload: object


@dataclass
class Drained:
    invokes: list[AsyncInvoke] = field(default_factory=list)
    metric_puts: int = 0  # PutMetricData calls
    # Their bodies as sent in JSON (the awsJson protocol), for the alarm periods (alarms.py);
    # `undecoded_puts` counts the others (CBOR, query, unreadable).
    metric_data: list[dict] = field(default_factory=list)
    undecoded_puts: int = 0
    # (Host header, URL path) of each S3 PUT/POST request: only they create objects (a DELETE
    # makes a delete marker, which no ObjectCreated notification announces).
    s3_writes: list[tuple[str, str]] = field(default_factory=list)
    # The RECONFIGURABLE services a recorded request may have reconfigured.
    reconfigured: set[str] = field(default_factory=set)


def _is_put_metric_data(path: str, headers: dict, raw: bytes) -> bool:
    return (
        path.endswith("/operation/PutMetricData")  # smithy-rpc-v2-cbor
        or headers.get("x-amz-target", "").endswith(".PutMetricData")  # awsJson
        or b"Action=PutMetricData" in raw
    )  # query


def _json_metric_data(headers: dict, raw: bytes) -> dict | None:
    """An awsJson PutMetricData body (gunzipped: the SDK compresses large ones), or None."""
    if not headers.get("x-amz-target", "").endswith(".PutMetricData"):
        return None
    try:
        if headers.get("content-encoding", "").strip().lower() == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
    except (OSError, EOFError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _operation(path: str, headers: dict, raw: bytes) -> str | None:
    """The API operation of an RPC-style request (awsJson target, rpc-v2-cbor path, or query
    Action); None for a REST request (Lambda's)."""
    if headers.get("x-amz-target"):
        return headers["x-amz-target"].rsplit(".", 1)[-1]
    if "/operation/" in path:
        return path.rsplit("/", 1)[-1]
    action = _QUERY_ACTION.search(raw)
    return action.group("action").decode() if action else None


def _reconfigures(service: str, method: str, path: str, headers: dict, raw: bytes) -> bool:
    """Whether a request to `service` may change its configuration: anything but a read, an
    invoke or a metric put (an operation not told apart counts as a change)."""
    if service == "lambda":
        return method not in ("GET", "HEAD") and not (
            _INVOKE.match(path) or _INVOKE_ASYNC.match(path)
        )
    operation = _operation(path, headers, raw)
    return operation is None or not (
        operation.startswith(("Get", "List", "Describe")) or operation in _CHANGES_NOTHING
    )


def _function_name(raw: str) -> str:
    name = unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        name = (
            parts[6] if len(parts) > 6 else name
        )  # arn:aws:lambda:region:acct:function:NAME[:qualifier]
    return name


def _entries(text: str) -> Iterator[dict]:
    """The recorded entries; two written without a newline between them (moto writes entry
    and newline separately, and serves requests in threads) are split apart."""
    decoder = json.JSONDecoder()
    for line in text.splitlines():
        position, line = 0, line.strip()
        while position < len(line):
            entry, position = decoder.raw_decode(line, position)
            yield entry


class Recorder:
    def __init__(
        self, endpoint_url: str, recording_file: Path | None = None, concurrent: bool = True
    ):
        """`concurrent`: requests may be in flight when the recording is drained (False: the
        drainer's own runs, finished by then, are moto's only clients between drains)."""
        self.base = endpoint_url.rstrip("/") + "/moto-api/recorder"
        self.recording_file = recording_file
        self.concurrent = concurrent
        self.available = True

    def _call(self, action: str, method: str = "POST") -> bytes:
        request = urllib.request.Request(
            f"{self.base}/{action}", method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def start(self) -> None:
        """Reset and start the recording; without moto's recorder, async invokes are not
        picked up."""
        try:
            self._call("reset-recording")
            self._call("start-recording")
        except (urllib.error.URLError, OSError):
            self.available = False

    def _take(self) -> str:
        """The recording so far, which then starts anew."""
        if self.recording_file is None:
            text = self._call("download-recording", method="GET").decode()
            if text:  # most drains find nothing: no reset to ask for
                self._call("reset-recording")
            return text
        taken = self.recording_file.with_name(self.recording_file.name + ".taken")
        try:
            os.rename(self.recording_file, taken)
        except FileNotFoundError:
            return ""
        if self.concurrent:
            time.sleep(0.05)  # an entry whose writer opened the file before the rename lands
        text = taken.read_text()
        taken.unlink()
        return text

    def drain(self) -> Drained:
        """Async invokes (in arrival order) and metric puts recorded since the last drain; the
        recording is reset."""
        drained = Drained()
        if not self.available:
            return drained
        for entry in _entries(self._take()):
            headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
            path = urlparse(entry.get("url", "")).path
            service = signing_service(headers.get("authorization", ""))
            if service == "s3":
                if entry.get("method") in ("PUT", "POST"):
                    drained.s3_writes.append((headers.get("host", ""), path))
                continue
            body = entry.get("body") or ""
            raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
            if service in RECONFIGURABLE and _reconfigures(
                service, entry.get("method", ""), path, headers, raw
            ):
                drained.reconfigured.add(service)
            if entry.get("method") != "POST":
                continue
            if _is_put_metric_data(path, headers, raw):
                drained.metric_puts += 1
                body = _json_metric_data(headers, raw)
                if body is None:
                    drained.undecoded_puts += 1
                else:
                    drained.metric_data.append(body)
                continue
            match = _INVOKE.match(path)
            if match and headers.get("x-amz-invocation-type") != "Event":
                continue
            match = match or _INVOKE_ASYNC.match(path)
            if match:
                payload = json.loads(raw) if raw.strip() else {}
                drained.invokes.append(AsyncInvoke(_function_name(match.group("name")), payload))
        return drained
