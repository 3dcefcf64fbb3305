"""local_aws.invoke_proxy on the wire: an answer leaves the public port in one write, its head
and body together, on a connection kept open for the next request; a request that expects
100 Continue gets it before it sends its body."""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local_aws.emulator import free_port
from local_aws.invoke_proxy import InvokeProxy, LambdaFront, serve_in_thread

BODY = b'{"KeyMetadata": {"KeyId": "k1", "Enabled": true}}'


class _Upstream(BaseHTTPRequestHandler):
    """moto's stand-in: reads the request's body, answers BODY."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def port():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    public = free_port()
    moto_url = f"http://127.0.0.1:{upstream.server_address[1]}"
    stop = serve_in_thread(
        InvokeProxy(("127.0.0.1", public), moto_url, LambdaFront(None, threading.RLock()))
    )
    yield public
    stop()
    upstream.shutdown()
    upstream.server_close()


def test_an_answer_leaves_in_one_write_and_the_connection_serves_the_next(port, monkeypatch):
    written: list[bytes] = []

    def recorded(method):
        def send(sock, data, *args):
            if sock.getsockname()[1] == port:  # the public port's side only
                written.append(bytes(data))
            return method(sock, data, *args)

        return send

    for name in ("send", "sendall"):
        monkeypatch.setattr(socket.socket, name, recorded(getattr(socket.socket, name)))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for target in ("TrentService.DescribeKey", "TrentService.GetKeyPolicy"):
        connection.request("POST", "/", body=b"{}", headers={"X-Amz-Target": target})
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, BODY)
    connection.close()
    assert len(written) == 2
    for write in written:
        assert write.startswith(b"HTTP/1.1 200 ") and write.endswith(b"\r\n\r\n" + BODY)


def test_a_request_that_expects_100_continue_gets_it_before_it_sends_its_body(port):
    payload = b"hotel_id,status\nh1,booked\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(
            b"PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(payload)
        )
        assert client.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(payload)
        answer = b""
        while not answer.endswith(BODY):
            answer += client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200 ")
