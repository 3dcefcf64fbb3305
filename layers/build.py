"""Build the Lambda packages: one dependency layer, code-only and bundled functions.

    python -m layers.build --out build/packages [--cache build/cache]

Output (docs/CONTRACTS.md, "Built packages"): ``layer.zip`` (dependencies under
``python/``), ``functions/<fn>.zip`` (our code only, for use with the layer),
``bundled/<fn>.zip`` (code and dependencies at the root, for LocalStack
Community, which ignores layers) and ``manifest.json``. Every function gets the
same code (``mlcycle/``, ``handlers/``, ``model/``); only its handler string
differs. Archives are byte-for-byte reproducible, so an unchanged tree gives an
unchanged CodeSha256 and Terraform plans no update.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from handlers import FUNCTIONS
from layers.bytecode import compile_own_code, require_lambda_python
from layers.deps import TASK_ROOT, prepare_dependencies
from layers.zips import describe, tree_entries, write_zip

REPO_ROOT = Path(__file__).resolve().parent.parent
# archive folder -> repository folder
CODE_DIRS = {"mlcycle": "lambda/mlcycle", "handlers": "lambda/handlers", "model": "model"}
# AWS: function code plus all its layers, unzipped, at most 262,144,000 bytes.
AWS_UNZIPPED_LIMIT = 250 * 1024 * 1024
log = logging.getLogger("layers.build")


class BuildError(RuntimeError):
    """The packages cannot be built as Lambda would accept them."""


def _ignore(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc") or n.startswith(".")]


def _stage_code(repo: Path, staging: Path) -> Path:
    """Copy our code into the function layout and compile it."""
    for archive_dir, source_dir in CODE_DIRS.items():
        source = repo / source_dir
        if not source.is_dir():
            raise BuildError(f"{source} is missing: a function package needs it")
        shutil.copytree(source, staging / archive_dir, ignore=_ignore)
    compile_own_code(staging, TASK_ROOT)
    return staging


def _check_limits(manifest: dict) -> None:
    layer = manifest["layer"]["unzipped_bytes"]
    for name in FUNCTIONS:
        with_layer = manifest["functions"][name]["unzipped_bytes"] + layer
        bundled = manifest["bundled"][name]["unzipped_bytes"]
        for label, size in (("function + layer", with_layer), ("bundled", bundled)):
            if size > AWS_UNZIPPED_LIMIT:
                raise BuildError(
                    f"{name}: {label} is {size:,} bytes unzipped, "
                    f"over Lambda's {AWS_UNZIPPED_LIMIT:,}"
                )


def _copies(first: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """The first function's archive, copied for the others (identical content)."""
    paths = {names[0]: first}
    for name in names[1:]:
        paths[name] = first.with_name(f"{name}.zip")
        shutil.copyfile(first, paths[name])
    return paths


def build(out: Path, *, repo: Path = REPO_ROOT, cache_dir: Path | None = None) -> dict:
    """Write every package and ``manifest.json`` under ``out``; return the manifest.

    ``cache_dir`` (default ``<repo>/build/cache``) keeps the prepared dependencies;
    with a warm cache a build only compiles and zips our own code.

    The packages are built beside ``out`` and moved in one file at a time, the manifest
    last: a deploy reading ``out`` while another build (a demo, a test worker) writes it
    sees each archive whole, old or new, never a folder emptied mid-build.
    """
    require_lambda_python()
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir else repo / "build" / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    deps = prepare_dependencies(repo / "requirements" / "runtime.txt", cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        manifest = _write_packages(staging, repo, deps.layer_zip, deps.root_zip)
        _move_into(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _write_packages(out: Path, repo: Path, layer_zip: Path, root_zip: Path) -> dict:
    shutil.copyfile(layer_zip, out / "layer.zip")
    with tempfile.TemporaryDirectory(prefix="lambda-code-") as tmp:
        code = tree_entries(_stage_code(repo, Path(tmp) / "code"))
        first_function = out / "functions" / f"{FUNCTIONS[0]}.zip"
        write_zip(first_function, code)
        first_bundle = out / "bundled" / f"{FUNCTIONS[0]}.zip"
        first_bundle.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root_zip, first_bundle)
        write_zip(first_bundle, code, append=True)
    manifest = {
        "layer": describe(out / "layer.zip", out).as_dict(),
        "functions": {
            n: describe(p, out).as_dict() for n, p in _copies(first_function, FUNCTIONS).items()
        },
        "bundled": {
            n: describe(p, out).as_dict() for n, p in _copies(first_bundle, FUNCTIONS).items()
        },
    }
    _check_limits(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _move_into(staging: Path, out: Path) -> None:
    """Each built file replaces its namesake in ``out`` (an atomic rename), the manifest
    last; archives of functions no longer built go."""
    built = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    manifest = Path("manifest.json")
    for relative in [*(p for p in built if p != manifest), manifest]:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, out / relative)
    for folder in ("functions", "bundled"):
        for stale in (out / folder).glob("*"):
            if stale.relative_to(out) not in built:
                if stale.is_dir():
                    shutil.rmtree(stale)
                else:  # missing_ok: a build running beside this one may have removed it first
                    stale.unlink(missing_ok=True)


def _summary(manifest: dict) -> str:
    def mb(n: int) -> str:
        return f"{n / 1e6:.1f} MB"

    layer, function, bundled = (
        manifest["layer"],
        manifest["functions"][FUNCTIONS[0]],
        manifest["bundled"][FUNCTIONS[0]],
    )
    return "\n".join(
        [
            f"layer.zip      {mb(layer['bytes'])} zipped, {mb(layer['unzipped_bytes'])} unzipped",
            f"functions/*.zip {mb(function['bytes'])} zipped, "
            f"{mb(function['unzipped_bytes'])} unzipped",
            f"function + layer {mb(function['unzipped_bytes'] + layer['unzipped_bytes'])} unzipped",
            f"bundled/*.zip  {mb(bundled['bytes'])} zipped, "
            f"{mb(bundled['unzipped_bytes'])} unzipped",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "packages")
    parser.add_argument(
        "--cache", type=Path, default=None, help="dependency cache (default: build/cache)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    started = time.perf_counter()
    try:
        manifest = build(args.out, cache_dir=args.cache)
    except RuntimeError as error:  # BuildError, BytecodeError, pip failures
        print(f"package build failed: {error}", file=sys.stderr)
        return 1
    print(_summary(manifest))
    print(f"built in {time.perf_counter() - started:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
