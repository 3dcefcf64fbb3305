"""Put the sample training data into a deployed stack and run the first training.

    python -m deployment.seed --endpoint URL [--state-dir DIR] [--data data/sample] [--no-train]

Reads the bucket and function names from the stack's Terraform outputs (the state that
`deployment.deploy apply` wrote for that endpoint), uploads `<data>/training/**.csv` to
`s3://<data bucket>/training/...` and invokes the train function synchronously, like
`aws s3 cp --recursive` + `aws lambda invoke`. Used by the docker-compose deploy service;
works the same against AWS (empty endpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deployment import deploy
from deployment.clients import client as _client
from deployment.variables import REPO

SAMPLE = REPO / "data" / "sample"


def upload_training(endpoint: str, bucket: str, data_dir: Path = SAMPLE) -> list[str]:
    s3, root, keys = _client("s3", endpoint), Path(data_dir) / "training", []
    for path in sorted(root.rglob("*.csv")):
        key = f"training/{path.relative_to(root).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    if not keys:
        raise SystemExit(
            f"seed: no CSV files under {root} (generate them with the data generator first)"
        )
    return keys


def first_training(endpoint: str, function_name: str) -> dict:
    response = _client("lambda", endpoint, read_timeout=960).invoke(
        FunctionName=function_name,
        Payload=json.dumps({"actor": "seed", "reason": "first training"}).encode(),
    )
    raw = response["Payload"].read()
    try:
        payload = json.loads(raw or b"null")
    except ValueError:  # moto answers with its own error text: it cannot run Lambda code
        raise SystemExit(
            f"seed: {function_name} did not run: {raw[:300].decode(errors='replace')}\n"
            "(moto_server stores functions but runs none: use local_aws.executor there)"
        ) from None
    if response.get("FunctionError"):
        raise SystemExit(f"seed: {function_name} failed: {json.dumps(payload)}")
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployment.seed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--endpoint", default="", help="emulator URL; empty = real AWS")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument(
        "--data", type=Path, default=SAMPLE, help="folder with training/<source>/*.csv"
    )
    parser.add_argument("--no-train", action="store_true", help="upload only")
    args = parser.parse_args(argv)
    outputs = deploy.outputs(args.endpoint, args.state_dir)
    if not outputs:
        print(
            f"seed: nothing deployed to {args.endpoint or 'AWS'}: run `make deploy` first",
            file=sys.stderr,
        )
        return 1
    keys = upload_training(args.endpoint, outputs["data_bucket"], args.data)
    print(f"seed: uploaded {len(keys)} files to s3://{outputs['data_bucket']}/training/")
    if not args.no_train:
        print(
            json.dumps(first_training(args.endpoint, outputs["function_names"]["train"]), indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
