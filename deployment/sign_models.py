"""Sign the model versions registered before signing existed: a one-off migration.

    python -m deployment.sign_models [--endpoint URL] [--model-config model/model_config.yml]

Run it with the train role's credentials (only that role may use the signing key): each
unsigned version is signed only if its model file still has the sha256 its metadata
recorded. Until a version is signed the functions refuse to load it (batches are held, not
lost); afterwards, re-score held batches with `{"action": "score_held", "probation": false}`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deployment import deploy
from deployment.clients import client
from deployment.emulator_env import EMULATOR_ENV
from mlcycle.config import load_config
from mlcycle.errors import MLCycleError
from mlcycle.registry import ModelRegistry
from mlcycle.signing import KEY_VARIABLE
from mlcycle.storage import ObjectStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployment.sign_models", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL", ""),
        help="emulator URL; empty = real AWS (default: $AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--model-config", type=Path, default=deploy.DEFAULT_MODEL_CONFIG)
    args = parser.parse_args(argv)
    outputs = deploy.outputs(args.endpoint, args.state_dir)
    if not outputs:
        print(f"sign_models: nothing deployed to {args.endpoint or 'AWS'}", file=sys.stderr)
        return 1
    if args.endpoint:
        os.environ.update({**EMULATOR_ENV, "AWS_ENDPOINT_URL": args.endpoint})
    os.environ[KEY_VARIABLE] = outputs["model_signing_key_arn"]
    registry = ModelRegistry(
        ObjectStore(client("s3", args.endpoint)),
        outputs["buckets"]["models"],
        load_config(args.model_config).name,
    )
    try:
        signed = registry.sign_unsigned()
    except MLCycleError as exc:
        print(f"sign_models: {exc}", file=sys.stderr)
        return 1
    print(f"sign_models: signed {len(signed)} version(s): {', '.join(signed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
