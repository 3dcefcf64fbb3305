"""Run a deployed function's handler in a subprocess, the way the Lambda runtime would.

The code comes from the built packages, matched to what is deployed by hash: a function's
CodeSha256 (and each layer's) is the base64 sha256 of its zip, so the zip in build/packages
with that hash is exactly the deployed code. Zips are unpacked once into a cache keyed by
that hash. The import path mirrors Lambda's: the function root (/var/task), the layer's
`python/lib/python3.11/site-packages` and `python/` (/opt/python), then the runtime's boto3
(here: links to this interpreter's boto3, botocore and their dependencies, nothing else:
a dependency missing from the package fails here as it would on Lambda). The interpreter
runs with -S, so this virtualenv's site-packages is not on the path.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from layers.zips import sha256_file
from local_aws.warm import Serve, WarmPool

# What the Lambda python3.11 runtime itself provides.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


class PackageNotFound(LookupError):
    """The deployed code matches no zip in the packages directory."""


class PackageStore:
    """Find a zip in packages_dir by Lambda's CodeSha256 and unpack it (once) into cache_dir."""

    def __init__(self, packages_dir: Path, cache_dir: Path):
        # Absolute: sandboxes run in other working directories.
        self.packages_dir = Path(packages_dir).resolve()
        self.cache_dir = Path(cache_dir).resolve()
        self._hashes: dict[tuple[str, int, int], str] = {}

    def find(self, code_sha256: str) -> Path:
        for path in sorted(self.packages_dir.rglob("*.zip")):
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in self._hashes:
                self._hashes[key] = base64.b64encode(sha256_file(path)).decode()
            if self._hashes[key] == code_sha256:
                return path
        raise PackageNotFound(
            f"no zip under {self.packages_dir} has CodeSha256 {code_sha256}: "
            "the deployed code was built elsewhere; run `make package` and redeploy"
        )

    def unpacked(self, code_sha256: str) -> Path:
        target = self.cache_dir / base64.b16encode(base64.b64decode(code_sha256)).decode().lower()
        if not target.exists():
            source = self.find(code_sha256)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=self.cache_dir))
            with zipfile.ZipFile(source) as zf:
                zf.extractall(staging)
            try:
                staging.rename(target)
            except OSError:  # somebody else unpacked it meanwhile
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def runtime_dir(self) -> Path:
        """A folder with links to this interpreter's boto3 and its dependencies only."""
        target = self.cache_dir / "runtime"
        target.mkdir(parents=True, exist_ok=True)
        for name in RUNTIME_MODULES:
            link = target / name if name != "six" else target / "six.py"
            if link.exists() or link.is_symlink():
                continue
            spec = importlib.util.find_spec(name)
            if spec is None:
                continue
            source = (
                Path(spec.submodule_search_locations[0])
                if spec.submodule_search_locations
                else Path(spec.origin)
            )
            link.symlink_to(source, target_is_directory=source.is_dir())
        return target


@dataclass
class Invocation:
    """One run of one function: what it got, what it returned or raised, and its output."""

    function: str
    source: str  # "direct", "s3", "schedule", "sns", "async", "sync" (invoked by a handler)
    event: object
    virtual_time: object
    result: object = None
    error: dict | None = None
    logs: str = ""
    duration_s: float = 0.0
    attempt: int = 1
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream: str = ""  # its sandbox's, in the function's log group

    @property
    def ok(self) -> bool:
        return self.error is None


class OutputTail:
    """Hands the complete lines written to `path` to `output` every half second, and the rest
    at `close()`."""

    def __init__(self, path: Path, output: Callable[[list[str]], None]):
        self.path, self.output = path, output
        self.offset, self.partial = 0, b""
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _read(self, final: bool) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:  # the sandbox has not opened it yet
            return
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        if final and self.partial:
            lines.append(self.partial)
        if lines:
            self.output([line.decode(errors="replace") for line in lines])

    def _follow(self) -> None:
        while not self.stopped.wait(0.5):
            self._read(final=False)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self._read(final=True)


@dataclass(frozen=True)
class SandboxSpec:
    """What a function's sandbox runs: its identity (the pool key), environment and folder."""

    identity: str
    env: dict
    cwd: str
    timeout_s: int


def sandbox_spec(
    config: dict,
    task_dir: Path,
    layer_dirs: list[Path],
    runtime_dir: Path,
    pool: WarmPool,
    endpoint_url: str,
    region: str,
    credentials: dict,
) -> SandboxSpec:
    """The sandbox of `config` (get_function's Configuration): a new one for other code or
    configuration."""
    name = config["FunctionName"]
    path = [str(task_dir)]
    for layer in layer_dirs:
        path += [
            str(layer / "python" / "lib" / "python3.11" / "site-packages"),
            str(layer / "python"),
        ]
    path.append(str(runtime_dir))
    timeout_s = int(config.get("Timeout", 3))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(task_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.get('Runtime', 'python3.11')}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # No host AWS configuration leaks in: only the emulator and its test credentials.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **(config.get("Environment") or {}).get("Variables", {}),
        **credentials,
        "AWS_ENDPOINT_URL": endpoint_url,
        "_HANDLER": config["Handler"],
        "_FUNCTION_ARN": config["FunctionArn"],
        "_TIMEOUT_S": str(timeout_s),
        "PYTHONPATH": os.pathsep.join(path),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda
        "PYTHONUNBUFFERED": "1",
    }
    # A sandbox serves the same code and configuration only: anything else starts a new one.
    identity = json.dumps(
        [
            config["FunctionArn"],
            config.get("CodeSha256"),
            [str(d) for d in layer_dirs],
            {k: v for k, v in env.items() if k != "AWS_LAMBDA_LOG_STREAM_NAME"},
        ],
        sort_keys=True,
    )
    env.update(HOME=str(pool.home), TMPDIR=str(pool.home))
    return SandboxSpec(identity, env, str(task_dir), timeout_s)


def run_handler(
    spec: SandboxSpec,
    pool: WarmPool,
    event: object,
    invocation: Invocation,
    serve: Serve,
    enforce_timeout: bool = True,
    output: Callable[[list[str]], None] | None = None,
    started: Callable[[Invocation], None] | None = None,
) -> Invocation:
    """Run the handler of `spec` on `event` in a sandbox; fill `invocation`. `serve` answers
    the synchronous invokes the handler makes; `output`, when given, gets the lines the handler
    writes while it runs; `started`, the invocation once its sandbox (and so its log stream) is
    chosen, before the handler runs."""

    def chosen(log_stream: str) -> None:
        invocation.log_stream = log_stream
        if started:
            started(invocation)

    timeout_s = spec.timeout_s
    with tempfile.TemporaryDirectory(prefix="lambda-") as tmp:
        event_path, result_path, log_path = (
            Path(tmp) / "event.json",
            Path(tmp) / "result.json",
            Path(tmp) / "output.log",
        )
        event_path.write_text(json.dumps(event))
        tail = OutputTail(log_path, output) if output else None
        invocation.duration_s = pool.run(
            spec.identity,
            spec.env,
            spec.cwd,
            event_path,
            result_path,
            log_path,
            invocation.request_id,
            timeout_s if enforce_timeout else None,
            serve,
            chosen,
        )
        if tail:
            tail.close()
        invocation.logs = log_path.read_text(errors="replace") if log_path.exists() else ""
        if result_path.exists():
            outcome = json.loads(result_path.read_text())
            invocation.result, invocation.error = (
                outcome.get("result"),
                (outcome if "errorType" in outcome else None),
            )
        elif invocation.duration_s >= timeout_s and enforce_timeout:
            invocation.error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": (
                    f"RequestId: {invocation.request_id} Error: "
                    f"Task timed out after {timeout_s:.2f} seconds"
                ),
            }
        else:
            invocation.error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": (
                    f"RequestId: {invocation.request_id} Error: Runtime exited with error"
                ),
            }
    return invocation
