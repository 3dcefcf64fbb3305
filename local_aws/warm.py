"""Warm sandboxes: one long-lived process per deployed function, as Lambda reuses a container.

A cold start imports pandas and scikit-learn (about a second); a month-long demo makes
hundreds of invocations. Like Lambda, a sandbox serves invocations one at a time, keeps
module-level state between them, and is thrown away on a timeout, a crash, or when the
function's code or configuration changes (the pool key includes all of them).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Absolute: the sandbox runs in the function's folder, where a relative path finds nothing.
WORKER = Path(__file__).resolve().with_name("sandbox_worker.py")
# A handler's synchronous invoke ({"invoke": function, "payload": text}) -> the answer to send
# back ({"headers", "body"}), or None to let the request go on to moto.
Serve = Callable[[dict], dict | None]


class Sandbox:
    def __init__(self, python: str, worker: Path, env: dict, cwd: str):
        read_fd, write_fd = os.pipe()
        # What the process says before its first invocation redirects the streams (a worker
        # that cannot start): kept, and added to the output of the invocation that failed.
        self.startup_output = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [python, "-S", str(worker)],
            stdin=subprocess.PIPE,
            stdout=self.startup_output,
            stderr=subprocess.STDOUT,
            env={**env, "_CONTROL_FD": str(write_fd)},
            cwd=cwd,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self.control = os.fdopen(read_fd, "r")
        # One log stream per execution environment, as on Lambda: its handler's context says so.
        self.log_stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]

    def call(self, request: dict, timeout_s: float | None, serve: Serve) -> bool:
        """Send one invocation; False when it did not finish in time or the process died.

        A synchronous invoke the handler makes meanwhile is passed to `serve`, and its
        answer written back; the time it takes counts against this invocation's timeout,
        as the caller waits for it on Lambda too.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.control], [], [], left)
            line = self.control.readline() if ready else ""
            if not line.startswith("{"):
                return line == "done\n"
            self.process.stdin.write((json.dumps(serve(json.loads(line))) + "\n").encode())
            self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.control.close()
        self.startup_output.close()
        if self.process.stdin:
            self.process.stdin.close()


class WarmPool:
    """Idle sandboxes by function identity. warm=False starts a fresh one for every invocation
    (cold starts)."""

    def __init__(self, python: str, work_dir: Path, warm: bool = True):
        self.python, self.warm = python, warm
        work_dir.mkdir(parents=True, exist_ok=True)
        self.home = Path(tempfile.mkdtemp(prefix="sandbox-home-", dir=work_dir))
        self.sandboxes: dict[str, list[Sandbox]] = {}

    def run(
        self,
        key: str,
        env: dict,
        cwd: str,
        event_path: Path,
        result_path: Path,
        log_path: Path,
        request_id: str,
        timeout_s: float | None,
        serve: Serve,
        on_start: Callable[[str], None],
    ) -> float:
        """Run one invocation in an idle sandbox for `key`; returns seconds taken. `on_start`
        gets the sandbox's log stream before the invocation is sent. A timeout or
        crash discards the sandbox (the next call starts cold), as Lambda does. A function
        invoked synchronously by a running invocation of itself gets a second sandbox, as
        Lambda runs concurrent invocations in separate containers."""
        idle = self.sandboxes.setdefault(key, [])
        sandbox = idle.pop() if idle else None
        if sandbox is None or sandbox.process.poll() is not None:
            sandbox = Sandbox(self.python, WORKER, env, cwd)
        on_start(sandbox.log_stream)
        started = time.monotonic()
        request = {
            "event_path": str(event_path),
            "result_path": str(result_path),
            "log_path": str(log_path),
            "request_id": request_id,
        }
        try:
            finished = sandbox.call(request, timeout_s, serve)
        except BrokenPipeError:
            finished = False
        if finished and self.warm:
            idle.append(sandbox)
        else:
            sandbox.startup_output.seek(0)
            with open(log_path, "ab") as log:
                log.write(sandbox.startup_output.read())
            sandbox.close()
        return time.monotonic() - started

    def prestart(self, key: str, env: dict, cwd: str) -> None:
        """An idle sandbox for `key`, started now unless one is idle already: it imports its
        handler while the caller goes on, and the next run for `key` takes it."""
        idle = self.sandboxes.setdefault(key, [])
        if not idle:
            idle.append(Sandbox(self.python, WORKER, env, cwd))

    def close(self) -> None:
        for idle in self.sandboxes.values():
            for sandbox in idle:
                sandbox.close()
        self.sandboxes.clear()
