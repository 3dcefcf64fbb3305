"""Print the cold import time of every handler, as a Lambda init phase would see it.

    python -m layers.measure_import [--packages build/packages] [--function train] [--runs 7]

Each run is a new interpreter (``layers.sandbox``) whose path holds only the
unzipped function package, the unzipped layer and a boto3 standing in for the
runtime's, so nothing is cached in-process between runs. The OS page cache is
warm after the first run, as it is on a Lambda host that has just pulled the
package; the minimum is the figure least disturbed by other load on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from layers.build import REPO_ROOT
from layers.deps import prepare_runtime_standin
from layers.sandbox import SandboxPaths, cold_import, extract

# The variables every handler gets in deployment (docs/CONTRACTS.md); values are dummies.
HANDLER_ENV = {
    "DATA_BUCKET": "data",
    "MODEL_BUCKET": "models",
    "PREDICTIONS_BUCKET": "predictions",
    "MONITORING_BUCKET": "monitoring",
    "INFERENCE_RULE_NAME": "inference",
    "TRAIN_FUNCTION_NAME": "train",
    "INFER_FUNCTION_NAME": "infer",
}


def handler_modules(task: Path) -> list[str]:
    """``handlers.<name>`` for every module in the function package's handlers/."""
    return sorted(
        f"handlers.{p.stem}" for p in (task / "handlers").glob("*.py") if p.stem != "__init__"
    )


def unpack(packages: Path, function: str, into: Path, cache_dir: Path) -> SandboxPaths:
    """Lay out /var/task, /opt and the runtime stand-in from built packages."""
    task = extract(packages / "functions" / f"{function}.zip", into / "task")
    opt = extract(packages / "layer.zip", into / "opt")
    runtime = prepare_runtime_standin(REPO_ROOT / "requirements" / "dev.txt", cache_dir)
    return SandboxPaths(task=task, layer=opt / "python", runtime=runtime)


def measure(paths: SandboxPaths, module: str, runs: int) -> list[float]:
    return [cold_import(paths, module, HANDLER_ENV)["seconds"] for _ in range(runs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=Path, default=REPO_ROOT / "build" / "packages")
    parser.add_argument("--function", default="train")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "build" / "cache")
    args = parser.parse_args(argv)
    if not (args.packages / "layer.zip").exists():
        print(f"no packages in {args.packages}: run `make package` first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="lambda-sandbox-") as tmp:
        paths = unpack(args.packages, args.function, Path(tmp), args.cache)
        print(f"{'module':<24} {'min s':>7} {'median s':>9} {'max s':>7}  ({args.runs} runs)")
        for module in handler_modules(paths.task):
            seconds = measure(paths, module, args.runs)
            print(
                f"{module:<24} {min(seconds):>7.2f} {statistics.median(seconds):>9.2f} "
                f"{max(seconds):>7.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
