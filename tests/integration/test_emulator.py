"""The moto_server `running_emulator` starts: connections kept open, every request logged, an
upload served at once, empty or not."""

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


def test_uploads_empty_or_not_are_each_served_at_once(tmp_path):
    """botocore sends `Expect: 100-continue` with every PutObject, an empty body's too: the
    server must serve it without waiting for a body that never comes, and leave the kept-open
    connection fit for the next upload. A request that timed out would be sent again: each
    upload must reach the server once."""
    log = tmp_path / "moto_server.log"
    bodies = [b"", b"x", b"", b"y" * 100_000, b""]
    with running_emulator(log_path=log) as url:
        s3 = client("s3", url, read_timeout=5)
        s3.create_bucket(Bucket="uploads")
        for n, body in enumerate(bodies):
            s3.put_object(Bucket="uploads", Key=f"{n}.csv", Body=body)
        stored = [
            s3.get_object(Bucket="uploads", Key=f"{n}.csv")["Body"].read()
            for n in range(len(bodies))
        ]

    assert stored == bodies
    puts = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("PUT ")]
    assert puts == ["/uploads"] + [f"/uploads/{n}.csv" for n in range(len(bodies))]
