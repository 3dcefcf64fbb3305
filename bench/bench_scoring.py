"""Scoring throughput and memory: the full pipeline against raw predict_proba.

    python bench/bench_scoring.py --rows 1000000

Data is generated in a child process (its memory is not ours), uploaded to a fresh
moto_server, and scored through the same code the infer Lambda runs: read both CSVs
from S3, validate, join, predict, count the gate's statistics and judge them, write
predictions + manifest. The raw figure is `model.predict_proba` on features already in
memory. gate_share is the pre-publication gate's part of the pipeline's time (counting the
chunks, the model inputs' second preprocessing pass on a sample, the verdict). Last line:

    rows_per_s_pipeline=<int> rows_per_s_raw=<int> ratio=<float> peak_rss_mb=<int>
    gate_share=<float> gb_s_per_million=<float> usd_per_million=<float> cpu_ratio=<float>

cpu_ratio is the same ratio in CPU seconds of this process (the upload thread's included, the
emulator's not): on a machine busy with other work the wall clock of either side stretches
with whatever else ran meanwhile, its CPU seconds much less.

    python bench/bench_scoring.py --rows 1000000 --shards 2

scores the batch through the deployed sharded path instead (bench/sharded_run.py); last line:

    shards=<n> rows=<n> wall_s= single_s= shard_s_max= speedup= modelled_100m_wall_s=
    modelled_100m_shards=
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from deployment.emulator_env import EMULATOR_ENV
from local_aws.emulator import running_emulator

ROOT = Path(__file__).resolve().parent.parent
# Read once, when scikit-learn's OpenMP runtime loads (imported in main): set it before.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# What the infer function's Terraform sets (deployment/terraform/functions.tf): glibc reads it at
# start-up, so the bench re-executes itself with it. Without it, glibc's dynamic mmap
# threshold keeps freed chunk buffers in the heap, fragmented: RSS crept ~35 MB per M rows.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}

INFER_MEMORY_MB = 2048  # the infer function's configured memory (deployment/terraform/main.tf)
PRICE_GB_S = 0.0000166667  # AWS Lambda x86, USD per GB-second (public price)

RAW_ROWS_MAX = (
    1_000_000  # raw throughput is per row: a 1M-row sample measures it without 10M rows in memory
)


def generate(folder: Path, rows: int, seed: int) -> None:
    code = (
        "import sys; from data.generate import write_training, write_large_batch; "
        f"write_training(sys.argv[1] + '/training', 20000, {seed}); "
        f"write_large_batch(sys.argv[1] + '/batch', {rows}, {seed}, chunk_rows=250000)"
    )
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, cwd=ROOT)


def peak_rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--shards",
        type=int,
        default=0,
        help="score through the deployed sharded path in this many shards (bench/sharded_run.py)",
    )
    args = parser.parse_args()
    if args.shards:
        from bench.sharded_run import run

        with tempfile.TemporaryDirectory() as tmp, running_emulator() as url:
            generate(Path(tmp), args.rows, args.seed)
            print(run(url, Path(tmp), args.rows, args.shards, Path(tmp) / "work"))
        return

    with tempfile.TemporaryDirectory() as tmp, running_emulator() as url:
        folder = Path(tmp)
        started = time.perf_counter()
        generate(folder, args.rows, args.seed)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
        os.environ.update(
            {**EMULATOR_ENV, "AWS_ENDPOINT_URL": url, "MODEL_DIR": str(ROOT / "model")}
        )
        from mlcycle.attributes import index_attributes, join
        from mlcycle.breaker.state import create_initial
        from mlcycle.config import load_config
        from mlcycle.datasets import feature_frame
        from mlcycle.objectstore import ObjectStore
        from mlcycle.plugin import load_plugin
        from mlcycle.registry import ModelRegistry
        from mlcycle.scoring import score_batch
        from mlcycle.sources import SourceReader
        from mlcycle.storage import Buckets
        from mlcycle.training import run_training

        # What a deployment provides: the signing key, versioned buckets, the breaker state.
        key = boto3.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
        os.environ["MODEL_SIGNING_KEY_ID"] = key["KeyMetadata"]["Arn"]
        buckets = Buckets("bench-data", "bench-models", "bench-predictions", "bench-monitoring")
        s3 = boto3.client("s3")
        for name in (buckets.data, buckets.models, buckets.predictions, buckets.monitoring):
            s3.create_bucket(Bucket=name)
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        create_initial(ObjectStore(s3), buckets.monitoring)
        for source in ("bookings", "hotels"):
            s3.upload_file(
                str(folder / "training" / source / f"{source}.csv"),
                buckets.data,
                f"training/{source}/{source}.csv",
            )
            s3.upload_file(
                str(folder / "batch" / f"{source}.csv"),
                buckets.data,
                f"incoming/bench/{source}.csv",
            )
        cfg = load_config(ROOT / "model" / "model_config.yml")
        plugin, store = load_plugin(cfg), ObjectStore()
        trained = run_training(cfg, plugin, store, buckets)
        print(
            f"trained {trained['version']}: accuracy {trained['metrics']['accuracy']:.3f}",
            flush=True,
        )
        rss_before = peak_rss_mb()

        started, cpu_started = time.perf_counter(), time.process_time()
        result = score_batch(cfg, plugin, store, buckets, "bench")
        pipeline_s = time.perf_counter() - started
        pipeline_cpu_s = time.process_time() - cpu_started
        rss = peak_rss_mb()
        assert result["status"] == "published" and result["rows"] == args.rows, result
        gate_share = result["timings"]["gate"] / pipeline_s
        print(
            f"pipeline: {args.rows:,} rows in {pipeline_s:.2f}s, stages {result['timings']}, "
            f"peak RSS {rss} MB (before scoring {rss_before} MB)",
            flush=True,
        )

        raw_rows = min(args.rows, RAW_ROWS_MAX)
        with open(folder / "batch" / "bookings.csv", "rb") as f:
            bookings = SourceReader(f, cfg.input_spec, "bookings.csv", cfg.join_key, raw_rows)
            base = next(iter(bookings)).frame
        with open(folder / "batch" / "hotels.csv", "rb") as f:
            hotels = SourceReader(
                f, cfg.attribute_sources[0], "hotels.csv", cfg.join_key
            ).read_all()
        features = feature_frame(
            join(base, [index_attributes("hotels", hotels, cfg.join_key)], cfg.join_key)[0], cfg
        )
        model = ModelRegistry(store, buckets.models, cfg.name).load(trained["version"])
        started, cpu_started = time.perf_counter(), time.process_time()
        model.predict_proba(features)
        raw_s = time.perf_counter() - started
        raw_cpu_s = time.process_time() - cpu_started
        print(f"raw predict_proba: {raw_rows:,} rows in {raw_s:.2f}s", flush=True)

    pipeline_rate, raw_rate = args.rows / pipeline_s, raw_rows / raw_s
    # Lambda bills configured memory x duration: a million predictions at this throughput.
    gb_s = INFER_MEMORY_MB / 1024 * 1e6 / pipeline_rate
    print(
        f"rows_per_s_pipeline={int(pipeline_rate)} rows_per_s_raw={int(raw_rate)} "
        f"ratio={pipeline_rate / raw_rate:.3f} peak_rss_mb={rss} gate_share={gate_share:.3f} "
        f"gb_s_per_million={gb_s:.1f} usd_per_million={gb_s * PRICE_GB_S:.5f} "
        f"cpu_ratio={raw_cpu_s / raw_rows / (pipeline_cpu_s / args.rows):.3f}"
    )


if __name__ == "__main__":
    main()
