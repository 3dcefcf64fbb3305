"""The moto_server `running_emulator` starts: connections kept open, every request logged, an
empty upload stored at once."""

from __future__ import annotations

import http.client
from urllib.parse import urlparse

from deployment.clients import client
from local_aws.emulator import running_emulator


def test_the_emulator_keeps_a_connection_open_and_logs_each_request(tmp_path):
    log = tmp_path / "moto_server.log"
    with running_emulator(log_path=log) as url:
        address = urlparse(url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        local_ports = []
        for bucket in ("kept-open-1", "kept-open-2", "kept-open-1"):
            connection.request("HEAD", f"/{bucket}")
            response = connection.getresponse()
            response.read()
            assert response.status == 404
            assert response.getheader("Connection") != "close"
            local_ports.append(connection.sock.getsockname()[1])
        connection.close()

    assert len(set(local_ports)) == 1  # one connection served all three
    lines = log.read_text().splitlines()
    assert [line.split()[:3] for line in lines if "kept-open" in line] == [
        ["HEAD", "/kept-open-1", "404"],
        ["HEAD", "/kept-open-2", "404"],
        ["HEAD", "/kept-open-1", "404"],
    ]


def test_an_empty_upload_is_stored_at_once(emulator_url):
    """botocore sends `Expect: 100-continue` with every PutObject, an empty body too: the
    server must answer it without waiting for a body that never comes."""
    s3 = client("s3", emulator_url, read_timeout=5)
    s3.create_bucket(Bucket="empty-uploads")
    s3.put_object(Bucket="empty-uploads", Key="empty.csv", Body=b"")
    s3.put_object(Bucket="empty-uploads", Key="full.csv", Body=b"x" * 100_000)

    assert s3.get_object(Bucket="empty-uploads", Key="empty.csv")["Body"].read() == b""
    assert len(s3.get_object(Bucket="empty-uploads", Key="full.csv")["Body"].read()) == 100_000
