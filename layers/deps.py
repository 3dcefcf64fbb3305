"""Install, trim, compile and archive the Lambda dependencies, once per recipe.

A cold build downloads ~100 MB of wheels and deflates ~200 MB; the tests build
the packages on every run, so the result is cached under ``build/cache`` keyed by
everything that decides its bytes: the requirements, the pins in
``constraints.txt``, the source of the modules below (the recipe) and the exact
interpreter version (it writes the .pyc). Change any of them and the next build
is a cold one; otherwise it reuses two archives: ``layer.zip`` (files under
``python/``, Lambda's /opt/python) and ``dependencies.zip`` (the same modules at
the root, the start of every bundled package, so at /var/task). Each is compiled
for its own run-time directory (see ``layers.bytecode``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from layers.bytecode import compile_dependencies, compile_own_code
from layers.trim import trim_tree
from layers.zips import sha256_file, tree_entries, write_zip

HERE = Path(__file__).parent
CONSTRAINTS = HERE / "constraints.txt"
RECIPE = (
    "deps.py",
    "trim.py",
    "elf.py",
    "bytecode.py",
    "pyc_writer.py",
    "zips.py",
    "constraints.txt",
)
LAYER_ROOT = "/opt/python"
TASK_ROOT = "/var/task"
# archive -> (run-time directory of its files, folder they sit under in the zip)
ARCHIVES = {"layer.zip": (LAYER_ROOT, "python/"), "dependencies.zip": (TASK_ROOT, "")}
# Lambda python3.11 x86_64 runs on Amazon Linux 2 (glibc 2.26): manylinux2014 wheels
# (glibc 2.17) load there, manylinux_2_28 wheels would not.
PIP_TARGET_PLATFORM = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dependencies:
    """The cached archives of one recipe."""

    layer_zip: Path
    root_zip: Path


def recipe_key(requirements: Path) -> str:
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for path in [requirements, *(HERE / name for name in RECIPE)]:
        digest.update(path.name.encode() + b"\0" + sha256_file(path))
    return digest.hexdigest()[:16]


def pip_install(target: Path, *requirement_args: str) -> None:
    """``pip install --target`` manylinux wheels for the Lambda runtime."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--no-warn-conflicts",
        "--disable-pip-version-check",
        *PIP_TARGET_PLATFORM,
        "--target",
        str(target),
        *requirement_args,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"pip install failed:\n{result.stdout}\n{result.stderr}")


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _replace_stale(cache_dir: Path, prefix: str, keep: Path) -> None:
    """One entry per kind: an old recipe's 300 MB is never read again."""
    for stale in cache_dir.glob(prefix + "*"):
        if stale != keep:
            shutil.rmtree(stale, ignore_errors=True)


def _staging(cache_dir: Path, kind: str, key: str) -> Path:
    """A build's own staging directory: two builds of one recipe at once (two demos in one
    checkout) each emptied the other's shared one mid-build and crashed."""
    staging = cache_dir / f".staging-{kind}-{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def _publish(staging: Path, entry: Path) -> None:
    """Move a finished staging directory into place; a crashed build leaves no entry."""
    try:
        staging.rename(entry)
    except OSError:
        if not entry.exists():
            raise
        shutil.rmtree(staging)  # another build finished the same recipe first


def prepare_dependencies(requirements: Path, cache_dir: Path) -> Dependencies:
    """Return the cached archives for ``requirements``, building them if needed."""
    key = recipe_key(requirements)
    entry = cache_dir / f"deps-{key}"
    done = entry / "report.json"
    with _building(cache_dir, f"deps-{key}"):
        if not done.exists():
            _build_dependencies(requirements, cache_dir, key, entry)
    return Dependencies(entry / "layer.zip", entry / "dependencies.zip")


@contextlib.contextmanager
def _building(cache_dir: Path, name: str) -> Iterator[None]:
    """One cold build of a recipe at a time: builds started together (test workers, a demo
    beside them) wait for the first and take its entry instead of each paying for pip."""
    with open(cache_dir / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, a crash included
        yield


def _build_dependencies(requirements: Path, cache_dir: Path, key: str, entry: Path) -> None:
    log.info("dependencies: cold build for recipe %s", key)
    staging = _staging(cache_dir, "deps", key)
    installed = staging / "installed"
    pip_install(installed, "-r", str(requirements), "-c", str(CONSTRAINTS))
    report = {"key": key, "installed_bytes": _tree_size(installed)}
    report.update(trim_tree(installed).__dict__)
    for archive, (location, prefix) in ARCHIVES.items():
        tree = staging / location.strip("/").replace("/", "-")
        shutil.copytree(installed, tree)
        report["compiled_modules"] = compile_dependencies(tree, location)
        report[f"{archive}_unzipped_bytes"] = _tree_size(tree)
        write_zip(staging / archive, tree_entries(tree, prefix))
        shutil.rmtree(tree)  # the archives are the product; the tests unzip them
    shutil.rmtree(installed)
    (staging / "report.json").write_text(json.dumps(report, indent=2))
    log.info(
        "dependencies: %.1f MB installed, %.1f MB removed, %.1f MB stripped, "
        "layer %.1f MB unzipped",
        report["installed_bytes"] / 1e6,
        report["removed_bytes"] / 1e6,
        report["stripped_bytes"] / 1e6,
        report["layer.zip_unzipped_bytes"] / 1e6,
    )
    _publish(staging, entry)
    _replace_stale(cache_dir, "deps-", entry)


def pinned(requirements: Path, name: str) -> str:
    """The ``name==version`` line of a requirements file."""
    pattern = re.compile(rf"^{re.escape(name)}==\S+", re.IGNORECASE)
    for line in requirements.read_text().splitlines():
        match = pattern.match(line.strip())
        if match:
            return match.group(0)
    raise ValueError(f"{requirements} does not pin {name}")


def prepare_runtime_standin(dev_requirements: Path, cache_dir: Path) -> Path:
    """boto3 as the Lambda runtime provides it, for import tests outside Lambda.

    The layer leaves boto3 out on purpose; a sandbox that imports our handlers
    needs it from somewhere other than the venv. Pinned like the dev venv's and
    compiled, as the runtime's copy is, so it does not inflate import timings.
    """
    requirement = pinned(dev_requirements, "boto3")
    key = hashlib.sha256(f"{requirement}|{sys.version}".encode()).hexdigest()[:16]
    entry = cache_dir / f"runtime-{key}"
    if not (entry / "boto3").is_dir():
        staging = _staging(cache_dir, "runtime", key)
        pip_install(staging, requirement)
        compile_own_code(staging, str(entry))
        _publish(staging, entry)
        _replace_stale(cache_dir, "runtime-", entry)
    return entry
