"""moto_server as `running_emulator` starts it: `python -m local_aws.moto_main -H HOST -p PORT`.

moto's own app (the one `moto_server` serves), with six changes (five measured on the 30-day
demo, about 20,000 requests, the last on Terraform's applies):

* It is served by waitress, not werkzeug's development server. werkzeug answers every
  request with `Connection: close`, so each boto3 call opened a new connection and the server
  started a thread for it: a tenth of moto's time, and the clients' reconnects besides.
  waitress keeps connections open and reads each request body whole before the next (with
  one bug worked around: `_ContinueWithoutWaiting`).
* moto 5.2 matches each request's Host header against the names of its own service packages,
  listing moto's folder (170 entries, an isdir each) on every request. Our Host is always
  127.0.0.1:port, so the scan always comes back empty-handed; it was a quarter of a request's
  time (6.9 -> 4.7 ms a GET). The folder does not change while the server runs: it is listed
  once.
* moto loads a service's botocore model once, but each load makes a new botocore loader that
  lists every service's data folder again: one loader serves them all.
* moto keeps S3 times as text and parses each one again (dateutil) for every listing that
  shows it: a quarter of a listing's time. The text of a time in a format is computed once.
* moto's request recorder (what the executor reads async invokes, metric puts and S3 writes
  from) writes every request body base64-encoded, the files put to S3 too. Of an S3 request
  the executor reads the method, host and path alone: its body is not recorded. A GET or
  HEAD (most of the demo's requests: S3 reads and listings) is not recorded at all: the
  executor skips them (moto_recorder.Recorder.drain).
* waitress sends an answer's head as soon as it is built and its body in a second send. The
  AWS provider (Terraform) under load gave up on about one answer an apply that came so and
  sent the request again, a create too. The head now waits for the body (up to 64 KB).

Each request is logged as `METHOD PATH[?QUERY] STATUS [X-Amz-Target]` on stdout (the
emulator's log file).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

import waitress
from moto import backends
from moto.core import utils as moto_utils
from moto.core.loaders import create_loader
from moto.core.serialize import TimestampSerializer
from moto.moto_api._internal.recorder.models import Recorder
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.channel import HTTPChannel

from local_aws.moto_recorder import signing_service

_SERVICE_PACKAGES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _SERVICE_PACKAGES
_LOADER = create_loader()
moto_utils.create_loader = lambda: _LOADER
_timestamp_text = TimestampSerializer._convert_timestamp_to_str


@functools.lru_cache(maxsize=1 << 16)
def _stored_time_text(value: str, timestamp_format: str) -> str:
    # The conversion reads nothing of the serializer but its converter methods.
    return _timestamp_text(TimestampSerializer(timestamp_format), value, timestamp_format)


def _time_text(serializer: TimestampSerializer, value, timestamp_format: str):
    if isinstance(value, str):
        return _stored_time_text(value, timestamp_format)
    return _timestamp_text(serializer, value, timestamp_format)


TimestampSerializer._convert_timestamp_to_str = _time_text  # type: ignore[method-assign]
_record_request = Recorder._record_request


def _record_writes(recorder: Recorder, request, body: bytes | None = None) -> None:
    if request.method in ("GET", "HEAD"):
        return
    if body is None and signing_service(request.headers.get("Authorization", "")) == "s3":
        body = b""  # given a body, the recorder leaves the request's own unread
    _record_request(recorder, request, body)


Recorder._record_request = _record_writes  # type: ignore[method-assign]


class _ContinueWithoutWaiting(HTTPChannel):
    """waitress 3.0.2 answers `Expect: 100-continue` with 100 Continue and then marks the
    request incomplete, even when its whole body has arrived or it has none (botocore's
    PutObject of an empty file): such a request waits for a body that never comes, and the
    client times out. The 100 Continue is still sent (botocore reads the final answer of a
    request that expected one wrongly when none came), but a complete request is served."""

    def send_continue(self):
        completed = self.request.completed
        super().send_continue()
        self.request.completed = completed


def _logged(app):
    def logged_app(environ, start_response):
        def start(status, headers, exc_info=None):
            query = environ.get("QUERY_STRING")
            path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            # One write a line: print's pieces from eight threads interleaved.
            sys.stdout.write(f"{environ['REQUEST_METHOD']} {path} {status[:3]} {target}\n")
            sys.stdout.flush()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logged_app


def server(host: str, port: int):
    """moto's app under waitress, not yet serving (`run()` serves)."""
    app = DomainDispatcherApplication(create_backend_app)
    # The live local cloud's sandboxes send requests at the same time.
    served = waitress.create_server(_logged(app), host=host, port=port, threads=8, ident="moto")
    served.channel_class = _ContinueWithoutWaiting
    # An answer's head waits for its body (up to 64 KB, or the answer's end): sent apart, the
    # AWS provider under load gave up on a few answers and sent their requests again.
    served.adj.send_bytes = 1 << 16
    return served


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    # moto builds some URLs it returns (SQS queue URLs) from this.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    served = server(args.host, args.port)
    served.print_listen("moto_server on http://{}:{}")
    served.run()


if __name__ == "__main__":
    main(sys.argv[1:])
