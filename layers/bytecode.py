"""Compile shipped Python to bytecode ahead of time, reproducibly.

Lambda's /var/task and /opt are read-only, so an interpreter there can never
cache what it compiles: without shipped .pyc every cold start recompiles every
imported module (~3 s for pandas + scikit-learn, see layers/README.md). Two
layouts are used:

- dependencies: sourceless .pyc beside where the .py was, without the column
  tables of ``-X no_debug_ranges`` and, outside numpy, without docstrings.
  Smallest and fastest; the price is tracebacks inside library frames that show
  file and line, not text. A sourceless module keeps the file name it was
  compiled with, so each tree is compiled for the directory it will occupy in
  Lambda (/opt/python for the layer, /var/task for a bundle).
- our own code: .py kept plus ``__pycache__`` checked-hash .pyc, so our
  tracebacks show source and carets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LAMBDA_PYTHON = (3, 11)
WORKER = Path(__file__).with_name("pyc_writer.py")
# Fixed number of batches (not one per CPU) so the output does not depend on the host.
BATCHES = 8
# numpy hands __doc__ to its C ``add_docstring``, which accepts None only when the
# interpreter itself runs with -OO; pandas, scipy and scikit-learn treat None like -OO.
KEEP_DOCSTRINGS = frozenset({"numpy"})


class BytecodeError(RuntimeError):
    """The build cannot produce bytecode the Lambda runtime will load."""


def require_lambda_python() -> None:
    """.pyc files are tied to the interpreter's minor version (magic number)."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != LAMBDA_PYTHON:
        wanted = ".".join(map(str, LAMBDA_PYTHON))
        raise BytecodeError(
            f"the Lambda runtime is CPython {wanted}; run the build with python{wanted} "
            f"(this is {sys.implementation.name} {sys.version.split()[0]})"
        )


def _run_batch(
    root: Path, location: str, files: list[tuple[str, bool]], sourceless: bool, debug_ranges: bool
) -> None:
    command = [sys.executable, "-I"]
    if not debug_ranges:
        command += ["-X", "no_debug_ranges"]
    job = {"root": str(root), "location": location, "files": files, "sourceless": sourceless}
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        command + [str(WORKER)], input=json.dumps(job), env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BytecodeError(f"compiling under {root} failed:\n{result.stderr[-4000:]}")


def _compile(
    root: Path, location: str, files: list[tuple[str, bool]], sourceless: bool, debug_ranges: bool
) -> int:
    require_lambda_python()
    size = -(-len(files) // BATCHES) or 1
    batches = [files[start : start + size] for start in range(0, len(files), size)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(
            pool.map(
                lambda batch: _run_batch(root, location, batch, sourceless, debug_ranges), batches
            )
        )
    return len(files)


def _python_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.is_file())


def compile_dependencies(root: Path, location: str) -> int:
    """Replace every .py under ``root`` by a sourceless .pyc; return the count.

    ``location``: where ``root`` will be at run time (e.g. ``/opt/python``).
    """
    files = [(name, name.split("/")[0] not in KEEP_DOCSTRINGS) for name in _python_files(root)]
    return _compile(root, location, files, sourceless=True, debug_ranges=False)


def compile_own_code(root: Path, location: str) -> int:
    """Add ``__pycache__`` .pyc next to every .py under ``root``; sources stay."""
    files = [(name, False) for name in _python_files(root)]
    return _compile(root, location, files, sourceless=False, debug_ranges=True)
