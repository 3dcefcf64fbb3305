"""The README's everyday commands, typed as a user would: the real AWS CLI (v1, from
requirements/dev.txt) against the local AWS of `make up` with the real stack deployed.

upload training data -> `lambda invoke` train -> upload a batch with `aws s3 cp` ->
predictions appear -> breaker status, open -> the next batch is held -> close -> the held batch
is published -> invokes with a bad payload answer with a clear error. Nothing here calls the
executor: only the public port, as a user's shell does.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data.generate import make_batch
from demo.scenario import csv_bytes
from deployment import deploy, operate
from layers.build import build
from local_aws import control
from local_aws.emulator import free_port
from tests.e2e.conftest import ROOT

AWS = Path(sys.executable).with_name("aws")
SAMPLE = ROOT / "data" / "sample"
HEADER = "batch_id,hotel_id,predicted_status,p_booked,p_cancelled,p_fulfilled,model_version"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """(stack outputs, run `aws ...` in a user's shell) with `make up`'s server on a free port."""
    packages = ROOT / "build" / "packages"
    build(packages)
    port, home = free_port(), tmp_path_factory.mktemp("user")
    assert control.up(port, speed=1) == 0
    try:
        url = f"http://127.0.0.1:{port}"
        stack = deploy.apply(url, "layer", home / "state", packages_dir=packages, quiet=True)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": stack["region"],
        }

        def aws(*args: str, check: bool = True) -> subprocess.CompletedProcess:
            done = subprocess.run(
                [str(AWS), *args], env=env, cwd=home, capture_output=True, text=True, timeout=300
            )
            if check:
                assert done.returncode == 0, done.stderr
            return done

        yield stack, aws, home
    finally:
        control.down(port)
        shutil.rmtree(control.WORK_ROOT / str(port), ignore_errors=True)


def _invoke(aws, home, function, payload, *options):
    """`aws lambda invoke ... out.json`: (the CLI's JSON answer, the payload in out.json)."""
    done = aws("lambda", "invoke", "--function-name", function, "--payload", payload, *options,
               "out.json")  # fmt: skip
    return json.loads(done.stdout), json.loads((home / "out.json").read_text())


def _wait_for(aws, url, timeout_s=30.0) -> list[str]:
    """`aws s3 ls URL` until it lists something: the names listed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = aws("s3", "ls", url, check=False).stdout.split()
        if listed:
            return listed
        time.sleep(0.3)
    raise AssertionError(f"nothing under {url} after {timeout_s:.0f}s")


def _upload_batch(aws, home, data_bucket, batch_id, bookings, hotels):
    for name, body in (("bookings", bookings), ("hotels", hotels)):
        path = home / f"{batch_id}-{name}.csv"
        path.write_bytes(body)
        aws("s3", "cp", str(path), f"s3://{data_bucket}/incoming/{batch_id}/{name}.csv")


def test_the_everyday_commands_run_the_deployed_stack(cloud):
    stack, aws, home = cloud
    data, predictions = stack["data_bucket"], stack["predictions_bucket"]
    fn = stack["function_names"]

    for source in ("bookings", "hotels"):
        local = SAMPLE / "training" / source / f"{source}.csv"
        aws("s3", "cp", str(local), f"s3://{data}/training/{source}/{source}.csv")
    answer, trained = _invoke(aws, home, fn["train"], "{}", "--log-type", "Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert (trained["status"], trained["version"], trained["champion"]) == (
        "promoted",
        "v0001",
        "v0001",
    )
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "\nREPORT RequestId: " in tail

    incoming = SAMPLE / "incoming" / "2026-01-02"
    _upload_batch(
        aws,
        home,
        data,
        "2026-01-02",
        (incoming / "bookings.csv").read_bytes(),
        (incoming / "hotels.csv").read_bytes(),
    )
    assert "_SUCCESS" in _wait_for(aws, f"s3://{predictions}/predictions/2026-01-02/_SUCCESS")
    listed = aws("s3", "cp", f"s3://{predictions}/predictions/2026-01-02/predictions.csv", "-")
    lines = listed.stdout.splitlines()
    assert lines[0] == HEADER and len(lines) == 501
    assert lines[1].startswith("2026-01-02,") and lines[1].endswith(",v0001")

    _, status = _invoke(aws, home, fn["breaker"], '{"action": "status"}')
    assert status["state"]["state"] == "CLOSED"
    _, opened = _invoke(
        aws,
        home,
        fn["breaker"],
        '{"action": "open", "reason": "vendor feed broken", "actor": "alice"}',
    )
    assert opened["state"]["state"] == "OPEN" and "inference rule disabled" in opened["effects"]
    rule = json.loads(aws("events", "describe-rule", "--name", stack["inference_rule_name"]).stdout)
    assert rule["State"] == "DISABLED"

    batch = make_batch("2026-01-03", 500, seed=3)
    _upload_batch(aws, home, data, "2026-01-03", csv_bytes(batch.bookings), csv_bytes(batch.hotels))
    assert "held.json" in _wait_for(aws, f"s3://{data}/held/2026-01-03/held.json")
    assert aws("s3", "ls", f"s3://{predictions}/predictions/2026-01-03/", check=False).stdout == ""

    _, closed = _invoke(
        aws, home, fn["breaker"], '{"action": "close", "reason": "feed fixed", "actor": "alice"}'
    )
    assert closed["state"]["state"] == "CLOSED"
    assert "_SUCCESS" in _wait_for(aws, f"s3://{predictions}/predictions/2026-01-03/_SUCCESS")
    manifest = json.loads(
        aws("s3", "cp", f"s3://{predictions}/predictions/2026-01-03/_SUCCESS", "-").stdout
    )
    assert manifest["model_version"] == "v0001" and manifest["rows"] == 500


def test_status_logs_and_summary_show_the_stack(cloud, capsys):
    """`make status`, `make logs` and the deploy log's last lines, on the same stack."""
    stack, _, home = cloud
    url = stack["endpoint_url"]
    shown = operate.status(url, home / "state")
    assert f"{stack['inference_rule_name']}  ENABLED  rate(1 hour)" in shown
    assert "breaker: CLOSED (revision " in shown
    assert "model booking_status: champion v0001, previous -" in shown
    operate.follow_logs(url, home / "state", once=True)
    logs = capsys.readouterr().out.splitlines()
    train = [line for line in logs if f" {stack['function_names']['train']} | " in line]
    assert any("| START RequestId: " in line for line in train)
    assert any('"training finished"' in line and '"status": "promoted"' in line for line in train)
    last = operate.summary(url, "http://127.0.0.1:4566", home / "state").splitlines()
    assert f"  function {stack['function_names']['infer']}" in last
    assert last[-1].startswith("  aws --endpoint-url http://127.0.0.1:4566 lambda invoke ")


def test_a_bad_payload_gets_a_clear_error_and_events_are_accepted(cloud):
    stack, aws, home = cloud
    fn = stack["function_names"]
    answer, error = _invoke(aws, home, fn["breaker"], '{"action": "explode", "actor": "alice"}')
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "EventError" and "explode" in error["errorMessage"]

    not_json = aws("lambda", "invoke", "--function-name", fn["breaker"], "--payload", "{oops",
                   "out.json", check=False)  # fmt: skip
    assert not_json.returncode != 0
    assert "InvalidRequestContentException" in not_json.stderr and "json" in not_json.stderr

    unknown = aws("lambda", "invoke", "--function-name", "no-such-function", "--payload", "{}",
                  "out.json", check=False)  # fmt: skip
    assert "ResourceNotFoundException" in unknown.stderr

    event = json.loads(
        aws(
            "lambda",
            "invoke",
            "--function-name",
            fn["breaker"],
            "--invocation-type",
            "Event",
            "--payload",
            '{"action": "status"}',
            "out.json",
        ).stdout  # fmt: skip
    )
    assert event["StatusCode"] == 202
