"""Run code in an interpreter laid out like a Lambda python3.11 sandbox.

Lambda's sys.path is: the function package (/var/task), the layer (/opt/python),
the standard library, then the runtime's own site-packages (boto3 and its
dependencies). We reproduce that with ``python -I -S -B`` (no user site, no venv
site-packages, no PYTHON* variables, no .pyc writes: /var/task and /opt are
read-only in Lambda, and a test run as root would otherwise fill the unzipped
tree with bytecode and time a warm import) and an explicit path list, so an
import that only works because the build host has a package installed fails here
too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

# What Lambda sets for every function (the subset a library might read at import).
LAMBDA_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
}


@dataclass(frozen=True)
class SandboxPaths:
    """The three import roots of a Lambda sandbox, as local directories."""

    task: Path  # /var/task: the unzipped function package
    layer: Path  # /opt/python: the layer's python/ directory
    runtime: Path | None = None  # stands for the runtime's boto3/botocore

    def bootstrap(self) -> str:
        """Python source that puts sys.path in Lambda's order."""
        head = [str(self.task.resolve()), str(self.layer.resolve())]
        tail = [str(self.runtime.resolve())] if self.runtime else []
        return f"import sys; sys.path[:0] = {head!r}; sys.path.extend({tail!r})\n"


def extract(archive: Path, dest: Path) -> Path:
    """Unzip ``archive`` into ``dest`` keeping file modes (Lambda does too)."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            target = Path(zipped.extract(info, dest))
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                target.chmod(mode & 0o777)
    return dest


def run_python(
    paths: SandboxPaths, code: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh isolated interpreter with the sandbox's sys.path."""
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **LAMBDA_ENV, **(env or {})}
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", paths.bootstrap() + code],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=paths.task,
    )


IMPORT_TIMER = """
import importlib, json, time
start = time.perf_counter()
module = importlib.import_module({module!r})
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "file": module.__file__}}))
"""


def cold_import(paths: SandboxPaths, module: str, env: dict[str, str] | None = None) -> dict:
    """Import ``module`` in a new interpreter; return seconds and where it came from.

    Raises RuntimeError carrying the child's traceback when the import fails, so a
    test failure shows the missing module instead of a bare exit status.
    """
    result = run_python(paths, IMPORT_TIMER.format(module=module), env)
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])
