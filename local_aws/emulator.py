"""Start and stop a moto_server process: the AWS endpoint on machines without Docker.

The same Terraform and the same boto3 calls go to it as to LocalStack or AWS; only
the endpoint URL differs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deployment.emulator_env import EMULATOR_ENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_server_command() -> list[str]:
    """This Python runs moto_server (local_aws/moto_main.py), if it has moto[server]."""
    if not all(importlib.util.find_spec(name) for name in ("moto", "flask")):
        raise RuntimeError("moto_server not found: run `make setup` (it installs moto[server])")
    return [sys.executable, "-m", "local_aws.moto_main"]


def _wait_until_up(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"moto_server exited with code {process.returncode} before serving {url}"
            )
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {url} within {timeout_s:.0f}s")


@contextlib.contextmanager
def running_emulator(
    port: int | None = None,
    log_path: Path | None = None,
    timeout_s: float = 30.0,
    recording_file: Path | None = None,
):
    """Yield the endpoint URL of a fresh moto_server; stop it on exit, even on error.
    `recording_file`: where moto's request recorder writes (default: a scratch file)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    scratch = tempfile.mkdtemp(prefix="moto-")
    env = {
        **os.environ,
        **EMULATOR_ENV,
        # moto's request recorder file: the local executor reads handlers' async invokes from it.
        "MOTO_RECORDER_FILEPATH": str(recording_file or Path(scratch) / "recording.jsonl"),
        # moto would run Lambda code in Docker where an engine exists (S3/SNS triggers included),
        # twice with the local executor; here moto is the control plane only.
        "DOCKER_HOST": "unix://" + os.path.join(scratch, "no-docker.sock"),
    }
    process = subprocess.Popen(
        [*_moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        _wait_until_up(url, process, timeout_s)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()
        shutil.rmtree(scratch, ignore_errors=True)
