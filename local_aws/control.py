"""Start the live local cloud in the background and stop it again, by its process id.

    python -m local_aws.control up   [--port 4566] [--speed 1]   (make up)
    python -m local_aws.control down [--port 4566]               (make down)

`up` starts `python -m local_aws.live serve` in its own session, writes its pid to
build/local-aws/<port>/pid and returns once the port answers. `down` sends that pid SIGTERM
(the server stops its port, its sandboxes and its moto_server) and, should it not be gone
within 20 s, kills the process group it leads. The stack lives in memory: after `down` it is
gone, and the next deploy to the port starts from an empty Terraform state (deploy.py drops a
state whose resources the endpoint no longer has).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deployment.emulator_env import user_region
from local_aws.live import REPO

WORK_ROOT = REPO / "build" / "local-aws"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (tests), now reaped
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(pid_file: Path) -> int | None:
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().strip() or 0)
    return pid if pid and _alive(pid) else None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
            return True
    except OSError:
        return False


def up(port: int, speed: float, host: str = "127.0.0.1") -> int:
    work = WORK_ROOT / str(port)
    work.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    running = _pid(work / "pid")
    if running:
        print(f"local AWS already runs at {url} (pid {running}); `make down` stops it")
        return 0
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            print(
                f"up: port {port} is taken by another program: choose one with LOCAL_AWS_PORT=...",
                file=sys.stderr,
            )
            return 1
    log_path = work / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_aws.live",
                "serve",
                "--host",
                host,
                "--port",
                str(port),
                "--speed",
                str(speed),
                "--work-dir",
                str(work),
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (work / "pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "".join(log_path.read_text(errors="replace").splitlines(True)[-20:])
            print(f"up: the local AWS did not start (log {log_path}):\n{tail}", file=sys.stderr)
            down(port)
            return 1
        time.sleep(0.2)
    print(
        f"local AWS: {url} (pid {process.pid}, region {user_region()}, speed {speed:g}; "
        f"log {log_path})\n"
        f"next: make deploy-local   (= make deploy AWS_ENDPOINT_URL={url})\n"
        f"stop: make down           (the stack lives in memory: it is gone after that)"
    )
    return 0


def down(port: int) -> int:
    pid_file = WORK_ROOT / str(port) / "pid"
    pid = _pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        print(f"local AWS on port {port} is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):  # its moto_server and sandboxes are in the session it leads
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    print(f"local AWS on port {port} stopped (pid {pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.control", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args(argv)
    return up(args.port, args.speed) if args.command == "up" else down(args.port)


if __name__ == "__main__":
    sys.exit(main())
