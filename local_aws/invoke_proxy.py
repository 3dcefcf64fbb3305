"""The public port of the local cloud: Lambda's Invoke API answered by running the deployed
code, every other request passed on to moto_server unchanged.

moto stores functions but runs none (without Docker it answers an invoke with "error running
docker"). Here `POST /2015-03-31/functions/<name>/invocations` is answered as Lambda does:

* RequestResponse (the default): 200 with the handler's JSON result, or with its error
  (`errorMessage`, `errorType`, `stackTrace`) and `X-Amz-Function-Error: Unhandled`;
  `X-Amz-Log-Type: Tail` adds `X-Amz-Log-Result`, the last 4 KB of the run's log, base64.
* Event: 202 at once; the run is queued and delivered (with the deployed retries) by the
  background loop.
* DryRun: 204.
* a payload that is not JSON: 400 InvalidRequestContentException, nothing runs.

A function moto does not know goes on to moto, whose 404 is Lambda's answer too. The code
that runs is the deployed package (matched by CodeSha256, see runtime.py); the functions
themselves talk to moto directly, so nothing they do passes through here.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

from local_aws.executor import Executor, log_lines
from local_aws.runtime import PackageNotFound

log = logging.getLogger("local_aws.invoke_proxy")
INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
LOG_TAIL_BYTES = 4096  # what Lambda returns with LogType Tail
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


class Answer:
    def __init__(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _json(status: int, body: object, headers: dict | None = None) -> Answer:
    return Answer(
        status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


class LambdaFront:
    """Answers Invoke requests from the executor; every executor call holds `lock`, which the
    background loop holds too (the executor serves one caller at a time)."""

    def __init__(self, executor: Executor, lock: threading.RLock):
        self.executor, self.lock = executor, lock

    def invoke(self, name: str, headers: dict, body: bytes) -> Answer | None:
        """Lambda's answer, or None to let moto answer (an unknown function)."""
        name = unquote(name)
        if not self.executor.knows(name):
            return None
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return _json(
                400,
                {
                    "Type": "User",
                    "message": f"Could not parse request body into json: {exc}",
                },
                {"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "DryRun":
            return Answer(204)
        if kind == "Event":
            with self.lock:
                self.executor.enqueue(name, event)
            return Answer(202)
        try:
            with self.lock:
                invocation = self.executor.run(name, event)
        except PackageNotFound as exc:
            return _json(
                200,
                {"errorType": "Runtime.PackageNotFound", "errorMessage": str(exc)},
                {"X-Amz-Function-Error": "Unhandled"},
            )
        extra = {"X-Amz-Executed-Version": "$LATEST"}
        if not invocation.ok:
            extra["X-Amz-Function-Error"] = "Unhandled"
        if headers.get("x-amz-log-type") == "Tail":
            tail = "\n".join(log_lines(invocation)).encode()[-LOG_TAIL_BYTES:]
            extra["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
        return _json(200, invocation.result if invocation.ok else invocation.error, extra)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An answer leaves in one write (flushed after each request), not its head and body apart:
    # the AWS provider under load then gave up on 200s whose body came a moment after their
    # head, and retried them, creates too (a KMS alias created twice failed an apply).
    wbufsize = 1 << 16
    server: InvokeProxy

    def handle_expect_100(self) -> bool:
        super().handle_expect_100()
        self.wfile.flush()  # the client waits for it before it sends the body
        return True

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        match = INVOKE.match(urlparse(self.path).path)
        answer = None
        if match and self.command == "POST":
            try:
                answer = self.server.front.invoke(match["name"], headers, body)
            except Exception as exc:  # the caller gets Lambda's service error, the log the cause
                log.exception("invoke of %s failed", match["name"])
                answer = _json(
                    500,
                    {"Type": "Service", "message": f"local cloud: {exc}"},
                    {"x-amzn-ErrorType": "ServiceException"},
                )
        if answer is None:
            answer = self.server.forward(self.command, self.path, self.headers.items(), body)
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        if "content-length" not in {k.lower() for k in answer.headers}:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)


class InvokeProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], moto_url: str, front: LambdaFront):
        super().__init__(address, _Handler)
        self.front = front
        parsed = urlparse(moto_url)
        self._moto = (parsed.hostname or "127.0.0.1", parsed.port or 80)

    def forward(
        self, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Answer:
        """The request as it came (its Host too: moto reads S3 bucket names from it), to moto."""
        connection = http.client.HTTPConnection(*self._moto, timeout=900)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            kept = {
                k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"date"}
            }
            if method != "HEAD":
                kept = {k: v for k, v in kept.items() if k.lower() != "content-length"}
            return Answer(response.status, data, kept)
        finally:
            connection.close()


def serve_in_thread(proxy: InvokeProxy) -> Callable[[], None]:
    """Start serving; returns the function that stops it."""
    thread = threading.Thread(target=proxy.serve_forever, name="invoke-proxy", daemon=True)
    thread.start()

    def stop() -> None:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)

    return stop
