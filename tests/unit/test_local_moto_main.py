"""local_aws.moto_main: the times it has turned into text once are the text moto gives; the
recording keeps every write's body but an S3 one's, and no read; an answer leaves in one send."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
from datetime import UTC, datetime

import pytest
from moto.core.serialize import TimestampSerializer
from moto.moto_api._internal.recorder.models import Recorder
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local_aws import moto_main

FORMATS = ["iso8601", "iso8601_zeroed", "rfc822", "unixtimestamp"]
STORED = ["2026-01-05T06:00:01.000Z", "2026-01-05T06:00:01.250000Z", "2026-01-05 06:00:01"]


@pytest.mark.parametrize("timestamp_format", FORMATS)
@pytest.mark.parametrize("value", STORED)
def test_a_stored_time_is_the_text_moto_gives_each_time(value, timestamp_format):
    serializer = TimestampSerializer(timestamp_format)
    moto_text = moto_main._timestamp_text(serializer, value, timestamp_format)
    assert serializer._convert_timestamp_to_str(value, timestamp_format) == moto_text
    assert serializer._convert_timestamp_to_str(value, timestamp_format) == moto_text


def test_a_stored_time_is_parsed_once_and_other_values_every_time():
    moto_main._stored_time_text.cache_clear()
    serializer = TimestampSerializer("iso8601")
    for _ in range(3):
        serializer._convert_timestamp_to_str(STORED[0], "iso8601")
    assert moto_main._stored_time_text.cache_info().misses == 1
    when = datetime(2026, 1, 5, 6, 0, 1, tzinfo=UTC)
    assert serializer._convert_timestamp_to_str(when, "iso8601") == "2026-01-05T06:00:01Z"
    assert moto_main._stored_time_text.cache_info().currsize == 1


def test_an_s3_request_is_recorded_without_its_body_and_a_read_not_at_all(tmp_path):
    recorder = Recorder()
    recorder._location, recorder._user_enabled = str(tmp_path / "recording.jsonl"), True
    sent = [
        ("s3", "PUT", b"hotel_id,status\nh1,booked\n"),
        ("s3", "GET", b""),
        ("s3", "HEAD", b""),
        ("lambda", "GET", b""),
        ("lambda", "POST", b'{"batch_id": "b1"}'),
    ]
    for service, method, body in sent:
        credential = f"Credential=test/20261202/us-east-1/{service}/aws4_request"
        request = Request(
            EnvironBuilder(
                method=method,
                path="/bucket/key",
                data=body,
                headers={"Authorization": f"AWS4-HMAC-SHA256 {credential}, Signature=00"},
            ).get_environ()
        )
        recorder._record_request(request)
        assert request.get_data() == body  # the handler still reads it
    entries = [json.loads(line) for line in (tmp_path / "recording.jsonl").read_text().splitlines()]
    recorded = [(e["method"], base64.b64decode(e["body"])) for e in entries]
    assert recorded == [("PUT", b""), ("POST", sent[-1][2])]


def test_an_answer_leaves_in_one_send_head_and_body_together(monkeypatch):
    served = moto_main.server("127.0.0.1", 0)
    port = int(served.effective_port)
    sent: list[bytes] = []
    send = socket.socket.send

    def recorded(sock, data, *args):
        if sock.getsockname()[1] == port:  # the server's side only
            sent.append(bytes(data))
        return send(sock, data, *args)

    monkeypatch.setattr(socket.socket, "send", recorded)
    threading.Thread(target=served.run, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for target in ("TrentService.ListKeys", "TrentService.ListAliases"):
            credential = "Credential=test/20261202/us-east-1/kms/aws4_request"
            connection.request("POST", "/", body=b"{}", headers={
                "X-Amz-Target": target,
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 {credential}, Signature=00",
            })  # fmt: skip
            answer = connection.getresponse()
            assert answer.status == 200 and b"Truncated" in answer.read()
        connection.close()
    finally:
        served.close()
    assert len(sent) == 2
    assert all(one.startswith(b"HTTP/1.1 200 ") and one.endswith(b"}") for one in sent)
