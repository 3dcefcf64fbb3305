"""Training cost against history: time, peak memory and S3 requests, window against full.

    python bench/bench_training.py            # 30, 365 and 730 days, about 8 minutes here
    python bench/bench_training.py --quick    # 30 and 120 days: a smoke run

A world of `--rows`-row days (2,000 like the scale issue's measurement) over 20,000 base
training rows, on a moto_server run in this process: each day a batch published with the
manifest fields training reads (the input revisions scored, the publication time; written
here rather than by scoring 730 batches), a clean monitor report and its complete labels,
whose LastModified is set to the simulated day they arrived (3 days after the batch). At
each history length a fresh Python process runs the train handler as the schedule does (the
configured window) and as `{"window": "full"}` does, each into its own model bucket, and
reports its wall time (and the part spent reading the training set), its peak RSS (imports
and the plug-in included: about 170 MB) and the S3 requests its client sent (GETs
separately). Last line, for scripts:

    d<days>_<window|full>_{s,rss_mb,gets,requests}=... per history length
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when scikit-learn's OpenMP loads

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2026, 1, 1)
LABEL_DELAY_DAYS = 3
BASE_ROWS = 20_000
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "resources": []}
PAYLOADS = {"window": SCHEDULED, "full": {"window": "full", "actor": "bench"}}


def _child(mode: str, workers: int, latency_ms: float) -> None:
    """One training run in a fresh process: its memory and requests are the run's alone."""
    import boto3

    requests: Counter[str] = Counter()

    def sent(request, **_) -> None:
        requests.update([request.method])
        time.sleep(latency_ms / 1000)

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-send.s3", sent)
    from handlers import train
    from mlcycle import history_window, training

    history_window.READ_WORKERS = workers
    load, loading = training.load_training_set, [0.0]

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return load(*args, **kwargs)
        finally:
            loading[0] += time.perf_counter() - began

    training.load_training_set = timed
    started = time.perf_counter()
    summary = train.handler(PAYLOADS[mode], None)
    seconds = time.perf_counter() - started
    if summary.get("status") not in ("promoted", "stored_not_promoted"):
        raise SystemExit(f"training failed: {summary}")
    print(
        json.dumps(
            {
                "s": round(seconds, 1),
                "load_s": round(loading[0], 1),
                "rss_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "gets": requests["GET"],
                "requests": sum(requests.values()),
                "batches": summary["labelled_batches"],
                "rows": summary["rows"]["train"] + summary["rows"]["holdout"],
            }
        )
    )


class World:
    """The buckets, the signing key and the simulated days on an in-process moto_server."""

    def __init__(self, rows: int, seed: int) -> None:
        import boto3
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        from data.generate import make_training
        from demo.scenario import csv_bytes
        from deployment.emulator_env import EMULATOR_ENV
        from local_aws.emulator import free_port

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
        port = free_port()
        self.server = ThreadedMotoServer("127.0.0.1", port, verbose=False)
        self.server.start()
        self.env = {**EMULATOR_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        os.environ.update(self.env)
        self.s3, self.rows, self.seed, self.days = boto3.client("s3"), rows, seed, 0
        self.data, self.predictions, self.monitoring = "data", "predictions", "monitoring"
        for bucket in (self.data, self.predictions, self.monitoring):
            self._bucket(bucket)
        key = boto3.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
        self.env["MODEL_SIGNING_KEY_ID"] = key["KeyMetadata"]["Arn"]
        from mlcycle.breaker.state import create_initial
        from mlcycle.objectstore import ObjectStore

        create_initial(ObjectStore(self.s3), self.monitoring)
        bookings, hotels = make_training(BASE_ROWS, seed)
        for source, frame in (("bookings", bookings), ("hotels", hotels)):
            self.s3.put_object(
                Bucket=self.data, Key=f"training/{source}/base.csv", Body=csv_bytes(frame)
            )

    def _bucket(self, name: str) -> None:
        self.s3.create_bucket(Bucket=name)
        # Versioned, as deployed: training reads a published batch at the versions scored.
        self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def grow(self, days: int) -> None:
        """Publish and label the days up to `days`."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        from data.generate import make_batch
        from demo.scenario import csv_bytes

        labels = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[self.data].keys
        for day in range(self.days, days):
            batch_id = f"day-{day:04d}"
            batch = make_batch(START + dt.timedelta(days=day), self.rows, self.seed)
            prefix, inputs = f"incoming/{batch_id}/", {}
            for source, frame in (("bookings", batch.bookings), ("hotels", batch.hotels)):
                key = f"{prefix}{source}.csv"
                put = self.s3.put_object(Bucket=self.data, Key=key, Body=csv_bytes(frame))
                inputs[source] = {"key": key, "etag": put["ETag"], "version_id": put["VersionId"]}
            published = (START + dt.timedelta(days=day)).replace(tzinfo=dt.UTC).isoformat()
            manifest = {
                "batch_id": batch_id,
                "input_prefix": prefix,
                "inputs": inputs,
                "published_at": published,
            }
            self._json(self.predictions, f"predictions/{batch_id}/_SUCCESS", manifest)
            self._json(self.monitoring, f"reports/{batch_id}.json", {"rules": {"trips": []}})
            key = f"labels/{batch_id}.csv"
            self.s3.put_object(Bucket=self.data, Key=key, Body=csv_bytes(batch.labels))
            labels[key].last_modified = START + dt.timedelta(days=day + LABEL_DELAY_DAYS)
        self.days = days

    def _json(self, bucket: str, key: str, doc: dict) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc).encode())

    def train(self, mode: str, workers: int, latency_ms: float) -> dict:
        models = f"models-d{self.days}-{mode}"
        self._bucket(models)
        env = {
            **os.environ,
            **self.env,
            "DATA_BUCKET": self.data,
            "MODEL_BUCKET": models,
            "PREDICTIONS_BUCKET": self.predictions,
            "MONITORING_BUCKET": self.monitoring,
            "MODEL_DIR": str(ROOT / "model"),
        }
        run = subprocess.run(
            [sys.executable, __file__, "--child", mode]
            + ["--workers", str(workers), "--latency-ms", str(latency_ms)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode:
            raise SystemExit(f"{mode} run at {self.days} days failed:\n{run.stderr[-3000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[30, 365, 730])
    parser.add_argument("--rows", type=int, default=2_000, help="labelled rows a day")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="30 and 120 days")
    parser.add_argument(
        "--workers", type=int, default=4, help="labelled batches read at once (1: one by one)"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added to each S3 request: a model of S3's first-byte latency (localhost has none)",
    )
    parser.add_argument("--child", choices=sorted(PAYLOADS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.workers, args.latency_ms)
        return
    world = World(args.rows, args.seed)
    fields = {}
    print("days    run batches      rows       s  load_s  rss_mb   GETs requests")
    for days in sorted([30, 120] if args.quick else args.days):
        world.grow(days)
        for mode in ("window", "full"):
            got = world.train(mode, args.workers, args.latency_ms)
            print(
                f"{days:>4} {mode:>6} {got['batches']:>7} {got['rows']:>9} {got['s']:>7.1f} "
                f"{got['load_s']:>7.1f} {got['rss_mb']:>7} {got['gets']:>6} {got['requests']:>8}",
                flush=True,
            )
            for name in ("s", "rss_mb", "gets", "requests"):
                fields[f"d{days}_{mode}_{name}"] = got[name]
    print(" ".join(f"{k}={v}" for k, v in fields.items()))


if __name__ == "__main__":
    main()
