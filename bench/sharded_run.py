"""bench_scoring --shards N: one batch through the deployed sharded path, against one invocation.

The packages are built from this tree and the real Terraform is applied to the moto_server
the bench started; the local executor runs the deployed infer function. The batch is scored
once by a single invocation (sharding off), then with MLCYCLE_SHARD_BYTES set so it plans N
shards: the planning invocation, then its N shard invocations run concurrently (each a
sandbox process of its own, as Lambda runs concurrent invocations in separate containers;
the executor's own pump would run them one after the other). The parts are checked row for
row against the single run's predictions.csv.
"""

from __future__ import annotations

import io
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from deployment import deploy
from deployment.clients import client
from layers.build import build
from local_aws.executor import Executor

CONCURRENCY = 10  # Terraform's default infer_reserved_concurrency


def _invoke(ex: Executor, function: str, event: dict) -> tuple[dict, float]:
    invocation = ex.run(function, event)
    if not invocation.ok:
        raise RuntimeError(f"{function} failed: {invocation.error}\n{invocation.logs[-3000:]}")
    return invocation.result, invocation.duration_s


def _predictions(s3, bucket: str, batch_id: str) -> pd.DataFrame:
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"predictions/{batch_id}/_SUCCESS")["Body"].read()
    )
    keys = manifest.get("parts") or [manifest["predictions_key"]]
    frames = [
        pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), dtype=str)
        for k in keys
    ]
    return pd.concat(frames, ignore_index=True).drop(columns="batch_id")


def run(url: str, folder: Path, rows: int, shards: int, work: Path) -> str:
    packages = work / "packages"
    build(packages)
    started = time.perf_counter()
    outputs = deploy.apply(
        url,
        "layer",
        work / "state",
        packages_dir=packages,
        quiet=True,
        extra_vars={"infer_shard_bytes": 0, "infer_reserved_concurrency": -1},
    )
    print(f"built and deployed in {time.perf_counter() - started:.1f}s", flush=True)
    s3, lam = client("s3", url), client("lambda", url)
    data, predictions = outputs["data_bucket"], outputs["predictions_bucket"]
    infer, train = outputs["function_names"]["infer"], outputs["function_names"]["train"]
    for source in ("bookings", "hotels"):
        s3.upload_file(
            str(folder / "training" / source / f"{source}.csv"),
            data,
            f"training/{source}/{source}.csv",
        )
        for batch_id in ("single", "sharded"):
            s3.upload_file(
                str(folder / "batch" / f"{source}.csv"), data, f"incoming/{batch_id}/{source}.csv"
            )
    ex = Executor(url, packages, datetime.now(UTC), cache_dir=work / "executor-cache")
    try:
        _invoke(ex, train, {})
        single, single_s = _invoke(ex, infer, {"batch_id": "single"})
        assert single["results"][0]["status"] == "published", single
        size = (folder / "batch" / "bookings.csv").stat().st_size
        env = lam.get_function_configuration(FunctionName=infer)["Environment"]["Variables"]
        env["MLCYCLE_SHARD_BYTES"] = str(math.ceil(size / shards))
        lam.update_function_configuration(FunctionName=infer, Environment={"Variables": env})

        wall = time.perf_counter()
        planned, plan_s = _invoke(ex, infer, {"batch_id": "sharded"})
        result = planned["results"][0]
        assert result["status"] == "sharded", result
        events = [
            {"action": "score_shard", "batch_id": "sharded", "plan": result["plan"], "shard": i}
            for i in range(result["shards"])
        ]
        with ThreadPoolExecutor(max_workers=len(events)) as pool:
            done = list(pool.map(lambda e: _invoke(ex, infer, e), events))
        wall_s = time.perf_counter() - wall
    finally:
        ex.close()
    finals = [r for r, _ in done if r["status"] == "published"]
    assert len(finals) == 1, [r["status"] for r, _ in done]
    identical = _predictions(s3, predictions, "sharded").equals(
        _predictions(s3, predictions, "single")
    )
    assert identical, "sharded predictions differ from the single run's"
    shard_s = [seconds for _, seconds in done]
    # the invocation that published also finished the batch; the others only scored
    finisher = next(i for i, (r, _) in enumerate(done) if r["status"] == "published")
    print(
        f"single invocation: {single_s:.1f}s; sharded: plan {plan_s:.1f}s, shards "
        f"{', '.join(f'{s:.1f}' for s in shard_s)}s (the last one finishes the batch); "
        f"predictions identical row for row",
        flush=True,
    )
    return _modelled(rows, size, plan_s, single_s, shard_s, finisher, wall_s)


def _modelled(
    rows: int,
    size: int,
    plan_s: float,
    single_s: float,
    shard_s: list[float],
    finisher: int,
    wall_s: float,
) -> str:
    """The measured run, and a 100M-row batch (as many hotel rows) modelled on AWS: shards of
    the default 256 MiB at 1,769 MB (one full vCPU, taken as one core here), at most
    CONCURRENCY at once. Planning scans the bytes and indexes the hotels once (per row); a
    shard scores its rows (per row: the mean of the shards that only scored); the finishing
    shard's time over that mean is the finish (every key re-checked), which grows with the
    batch. The planning invocation's time includes its sandbox's cold start (a few seconds),
    scaled with the rest: the model errs long."""
    n = len(shard_s)
    scoring = [s for i, s in enumerate(shard_s) if i != finisher]
    mean = sum(scoring) / len(scoring)
    bytes_per_row = size / rows
    shard_rows = 256 * 2**20 / bytes_per_row
    score_per_row = mean / (rows / n)
    finish_per_row = max(shard_s[finisher] - mean, 0.0) / rows
    shards_100m = math.ceil(100e6 / shard_rows)
    waves = math.ceil(shards_100m / CONCURRENCY)
    shard_100m = shard_rows * score_per_row
    model_s = plan_s / rows * 100e6 + waves * shard_100m + finish_per_row * 100e6
    print(
        f"100M rows modelled: {shards_100m} shards of {shard_rows / 1e6:.1f}M rows, "
        f"{waves} wave(s) at concurrency {CONCURRENCY}: plan {plan_s / rows * 100e6:.0f}s + "
        f"{waves} x {shard_100m:.0f}s per shard + finish {finish_per_row * 100e6:.0f}s",
        flush=True,
    )
    return (
        f"shards={n} rows={rows} wall_s={wall_s:.1f} single_s={single_s:.1f} "
        f"shard_s_max={max(shard_s):.1f} speedup={single_s / wall_s:.2f} "
        f"modelled_100m_wall_s={model_s:.0f} modelled_100m_shards={shards_100m}"
    )
