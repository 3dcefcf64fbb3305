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
from pathlib import Path

WORKER = (
    '''\
"""Local stand-in for a warm Lambda sandbox: import the handler once, serve invocations."""
import importlib, json, os, sys, time, traceback
sys.path.pop(0)  # this file's folder is no part of the function's path
control = os.fdopen(int(os.environ.pop("_CONTROL_FD")), "w")

class Context:
    def __init__(self, request):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = time.time() + float(os.environ["_TIMEOUT_S"])
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))

handler, import_error = None, None
module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    log = os.open(request["log_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1); os.dup2(log, 2); os.close(log)'''
    """  # this invocation's output, whatever holds the streams
    if handler is None and import_error is None:
        try:
            handler = getattr(importlib.import_module(module_name), function_name)
        except Exception as exc:
            import_error = {"errorType": "Runtime.ImportModuleError",
                            "errorMessage": f"Unable to import module '{module_name}': {exc}",
                            "stackTrace": traceback.format_exception(exc)}
    if import_error:
        out = import_error
    else:
        try:
            with open(request["event_path"]) as fh:
                event = json.load(fh)
            out = {"result": json.loads(json.dumps(handler(event, Context(request))))}
        except TypeError as exc:
            out = {"errorType": "Runtime.MarshalError","""
    """ "errorMessage": f"Unable to marshal response: {exc}",
                   "stackTrace": traceback.format_exception(exc)}
        except Exception as exc:
            out = {"errorType": type(exc).__name__, "errorMessage": str(exc),"""
    """ "stackTrace": traceback.format_exception(exc)}
    sys.stdout.flush(); sys.stderr.flush()
    with open(request["result_path"], "w") as fh:
        json.dump(out, fh)
    control.write("done\\n"); control.flush()
"""
)


class Sandbox:
    def __init__(self, python: str, worker: Path, env: dict, cwd: str):
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [python, "-S", str(worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "_CONTROL_FD": str(write_fd)},
            cwd=cwd,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self.control = os.fdopen(read_fd, "r")

    def call(self, request: dict, timeout_s: float | None) -> bool:
        """Send one invocation; False when it did not finish in time or the process died."""
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        ready, _, _ = select.select([self.control], [], [], timeout_s)
        return bool(ready) and self.control.readline() == "done\n"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.control.close()
        if self.process.stdin:
            self.process.stdin.close()


class WarmPool:
    """Sandboxes by function identity. warm=False starts a fresh one for every invocation
    (cold starts)."""

    def __init__(self, python: str, work_dir: Path, warm: bool = True):
        self.python, self.warm = python, warm
        work_dir.mkdir(parents=True, exist_ok=True)
        self.worker = work_dir / "sandbox_worker.py"
        if not self.worker.exists() or self.worker.read_text() != WORKER:
            self.worker.write_text(WORKER)
        self.home = Path(tempfile.mkdtemp(prefix="sandbox-home-", dir=work_dir))
        self.sandboxes: dict[str, Sandbox] = {}

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
    ) -> float:
        """Run one invocation in the sandbox for `key`; returns seconds taken. A timeout or crash
        discards the sandbox (the next call starts cold), as Lambda does."""
        sandbox = self.sandboxes.get(key)
        if sandbox is None or sandbox.process.poll() is not None:
            sandbox = self.sandboxes[key] = Sandbox(self.python, self.worker, env, cwd)
        started = time.monotonic()
        request = {
            "event_path": str(event_path),
            "result_path": str(result_path),
            "log_path": str(log_path),
            "request_id": request_id,
        }
        try:
            finished = sandbox.call(request, timeout_s)
        except BrokenPipeError:
            finished = False
        if not finished or not self.warm:
            sandbox.close()
            del self.sandboxes[key]
        return time.monotonic() - started

    def close(self) -> None:
        for sandbox in self.sandboxes.values():
            sandbox.close()
        self.sandboxes.clear()
