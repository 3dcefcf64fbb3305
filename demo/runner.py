"""`make demo`: a month of production on the deployed stack, incidents included.

    python -m demo [--scenario demo/scenarios/default.yml] [--days 30] [--seed 7]

Starts moto_server, applies the real Terraform to it, and drives the local executor:
each simulated day the labels of an earlier batch arrive, with the labels known so far
of the more recent ones, and a new batch is uploaded through S3; the clock moves on so
the schedules fire. Every function run is the deployed handler code; the runner only
uploads data, moves the clock and reads results back. It ends with a timeline and
writes build/demo/report.json + report.html.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from data.generate import Batch, label_increment
from demo import report as demo_report
from demo import report_html, scenario_file, truth
from demo import scenario as plan
from demo.early_start import EarlyStart
from demo.observe import observe
from demo.timeline import timeline
from demo.truth import Oracle
from deployment import deploy
from deployment.clients import client
from deployment.emulator_env import EMULATOR_ENV
from handlers import FUNCTIONS
from layers.build import build
from local_aws.emulator import running_emulator
from local_aws.executor import Executor
from local_aws.sandboxes import Sandboxes
from mlcycle import storage
from mlcycle.breaker.state import read_state
from mlcycle.config import ModelConfig, load_config
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import load_plugin
from mlcycle.registry import ModelRegistry
from mlcycle.scoring import published_manifest
from mlcycle.storage import Buckets
from mlcycle.verdicts import arrived_at

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "build" / "packages"
MODEL_CONFIG = ROOT / "model" / "model_config.yml"
LABELS_AT, BATCH_AT = dt.timedelta(hours=6), dt.timedelta(hours=12)
# A retrain takes hours in production; modelled on the virtual clock, a batch that arrives
# meanwhile meets an open breaker and is held.
RETRAIN_TAKES = dt.timedelta(hours=8)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _progress(rec: demo_report.DayRecord, sc: plan.Scenario, status: dict) -> str:
    incident = sc.incident_on(rec.day)
    flags = f" [{incident.type}]" if incident else ""
    return (
        f"day {rec.day:2d} {sc.date(rec.day)}  breaker {rec.breaker_state:9s} "
        f"champion {rec.champion}  "
        f"batch {status.get('status', '-'):10s}{flags}  " + "; ".join(rec.notes)
    )


class Run:
    def __init__(
        self,
        sc: plan.Scenario,
        cfg: ModelConfig,
        url: str,
        outputs: dict,
        out_dir: Path,
        recording: Path | None = None,
        sandboxes: Sandboxes | None = None,
    ):
        """`recording`: the emulator's request recording file (read there, not over HTTP);
        `sandboxes`: the functions' sandboxes, when they were started beforehand."""
        self.sc, self.cfg, self.url, self.out_dir = sc, cfg, url, out_dir
        names = outputs["buckets"]
        self.buckets = Buckets(
            names["data"], names["models"], names["predictions"], names["monitoring"]
        )
        self.functions = outputs["function_names"]
        self.store = ObjectStore(client("s3", url))
        self.start = dt.datetime.combine(sc.start, dt.time(0), dt.UTC)
        self.executor = Executor(
            url,
            PACKAGES,
            self.start,
            async_delays={self.functions["train"]: RETRAIN_TAKES},
            coalesce_schedules=True,
            recording_file=recording,
            quiet_between_calls=True,
            region=EMULATOR_ENV["AWS_REGION"],
            sandboxes=sandboxes,
        )
        self.records: list[demo_report.DayRecord] = []
        self._batches: dict[int, Batch] = {}

    def _batch(self, day: int) -> Batch:
        """The batch delivered on `day`, drawn once: its labels are sent on later days."""
        if day not in self._batches:
            self._batches[day] = self.sc.day_batch(day)
        return self._batches[day]

    def _put(self, key: str, body: bytes) -> str:
        return self.store.put_bytes(self.buckets.data, key, body)

    def _deliver(self, day: int, batch: Batch) -> dict[str, str]:
        """Upload a batch's sources (the last one triggers inference); their ETags by source."""
        batch_id = self.sc.batch_id(day)
        return {
            source: self._put(storage.incoming_key(batch_id, source), plan.csv_bytes(frame))
            for source, frame in (("bookings", batch.bookings), ("hotels", batch.hotels))
        }

    def _dated(self, day: int, through: dt.date) -> dt.date:
        """The increment's name date on the platform's calendar. The handlers' clock is the
        wall clock while the demo compresses a month into minutes, and the early-label rule
        compares batches by the age of their labels (increment date - arrival), so an
        increment is named by the batch's real arrival date plus its simulated age."""
        arrived = self._arrived(day)
        return through if arrived is None else arrived + (through - self.sc.date(day))

    def _arrived(self, day: int) -> dt.date | None:
        """The real date the platform counts the batch's label age from
        (`mlcycle.verdicts.arrived_at`): its publication or probation output, or while it waits
        in held/ without one, when it was held. A held batch's increments named by their
        simulated date instead mixed two calendars: a batch a refuted candidate returned to
        held/ had its labels of two days judged as one day's (demo seed 3: a recovery model
        0.73 accurate on them refuted by the early rule at 1.65)."""
        batch_id = self.sc.batch_id(day)
        manifest = published_manifest(self.store, self.buckets, batch_id, True)
        if manifest is not None:
            when = arrived_at(self.store, self.buckets, manifest)
        else:
            note, _ = self.store.get_json(self.buckets.data, storage.held_note_key(batch_id))
            when = (note or {}).get("held_at")
        return None if when is None else dt.datetime.fromisoformat(str(when)).date()

    def _state(self) -> tuple[str, str | None]:
        state = read_state(self.store, self.buckets.monitoring)[0]["state"]
        return state, ModelRegistry(self.store, self.buckets.models, self.cfg.name).champion()

    def bootstrap(self) -> dict:
        for key, body in plan.training_files(self.sc).items():
            self._put(key, body)
        return self.executor.invoke(self.functions["train"], {"actor": "demo bootstrap"})

    def day(self, day: int, deliver: bool = True) -> demo_report.DayRecord:
        """One simulated day: labels, corrections, then (``deliver``) the day's batch."""
        rec = demo_report.DayRecord(day, started=_now())
        ran = self.executor.advance(LABELS_AT)
        arriving = {}
        labelled = self.sc.labels_due(day)
        if labelled:
            labels = self._batch(labelled).labels
            arriving[storage.labels_key(self.sc.batch_id(labelled))] = labels
        for partly, through, after in self.sc.increments_due(day):
            key = storage.label_increment_key(
                self.sc.batch_id(partly), self._dated(partly, through).isoformat()
            )
            arriving[key] = label_increment(self._batch(partly), through, after)
        for key, frame in arriving.items():
            self._put(key, plan.csv_bytes(frame))
        if arriving:
            ran += self.executor.settle()
        ran += self.executor.advance(BATCH_AT - LABELS_AT)
        for broken in self.sc.corrections_due(day):
            etags = self._deliver(broken, self.sc.clean_batch(broken))
            rec.corrections[self.sc.batch_id(broken)] = etags
        if rec.corrections:
            ran += self.executor.settle()
        rec.champion_at_upload = self._state()[1]
        if deliver:
            self._deliver(day, self._batch(day))
            ran += self.executor.settle()
        ran += self.executor.advance(dt.timedelta(days=1) - BATCH_AT)
        rec.ended = _now()
        rec.breaker_state, rec.champion = self._state()
        rec.notes, rec.signals = observe(ran, self.functions)
        self.records.append(rec)
        return rec


def run(sc: plan.Scenario, out_dir: Path) -> dict:
    cfg = load_config(MODEL_CONFIG)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(
        f"mlcycle demo: {sc.days} days, seed {sc.seed}, labels after {sc.label_delay_days} "
        f"days, incidents: " + (", ".join(i.label() for i in sc.incidents) or "none"),
        flush=True,
    )
    build(PACKAGES)
    with (
        # The ground truth's inputs are drawn and fitted on the core the run leaves idle.
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as oracle_worker,
        tempfile.TemporaryDirectory(prefix="demo-") as scratch,
        running_emulator(
            log_path=out_dir / "moto_server.log", recording_file=Path(scratch) / "recording.jsonl"
        ) as url,
    ):
        state_dir = out_dir / "terraform"
        shutil.rmtree(state_dir, ignore_errors=True)
        lam = client("lambda", url)
        sandboxes = Sandboxes(lam, url, PACKAGES)
        truth_inputs: list[Future] = []

        def prepare_truth() -> None:
            truth_inputs.append(oracle_worker.submit(truth.prepared, sc, MODEL_CONFIG))

        early = EarlyStart(sandboxes, lam, len(FUNCTIONS), prepare_truth)
        early.start()
        try:
            outputs = deploy.apply(url, "layer", state_dir=state_dir, quiet=True)
        except BaseException:
            early.finish()
            sandboxes.close()  # started for a stack that is not there
            raise
        early.finish()
        if not truth_inputs:
            prepare_truth()
        print(
            f"stack applied to {url} in {time.monotonic() - started:.0f}s: "
            + ", ".join(sorted(outputs["function_names"].values())),
            flush=True,
        )
        r = Run(sc, cfg, url, outputs, out_dir, Path(scratch) / "recording.jsonl", sandboxes)
        first = r.bootstrap()
        print(
            f"first training: {first.get('version')} {first.get('status')} "
            f"(accuracy {first.get('metrics', {}).get('accuracy', 0):.3f}, "
            f"prior {first.get('baseline', {}).get('accuracy', 0):.3f})",
            flush=True,
        )
        for day in range(1, sc.days + 1):
            rec = r.day(day)
            status = {"status": demo_report.batch_outcome(r.store, r.buckets, sc.batch_id(day))}
            print(_progress(rec, sc, status), flush=True)
        # The last batches are judged by whether they were published within a day of arriving:
        # a day without a new batch lets their first labels and verdicts come, as they would.
        drained = r.day(sc.days + 1, deliver=False)
        print(f"day {drained.day:2d} (no batch)  " + "; ".join(drained.notes), flush=True)
        r.executor.close()
        print(_workload(r.executor.invocations), flush=True)
        registry = ModelRegistry(r.store, r.buckets.models, cfg.name)
        oracle = Oracle(sc, cfg, registry, load_plugin(cfg, MODEL_CONFIG.parent))
        oracle.adopt(truth_inputs[0].result())
        with _as_deployed(url, outputs["model_signing_key_arn"]):
            report = demo_report.collect(r.store, r.buckets, cfg.name, sc, r.records, oracle)
    report["seconds"] = round(time.monotonic() - started, 1)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    paths = report_html.render(report, out_dir)
    print(timeline(report))
    print(f"\nreport: {out_dir / 'report.json'}  {paths['html']}  ({report['seconds']:.0f}s)")
    return report


@contextlib.contextmanager
def _as_deployed(url: str, signing_key: str) -> Iterator[None]:
    """This process's AWS environment as a deployed function's, while the ground truth loads
    the registered models: each is verified through KMS before it is deserialised."""
    wanted = {**EMULATOR_ENV, "AWS_ENDPOINT_URL": url, "MODEL_SIGNING_KEY_ID": signing_key}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _workload(invocations) -> str:
    """How many runs each deployed function made, and their time: where a demo's minutes go."""
    totals: dict[str, list[float]] = {}
    for inv in invocations:
        totals.setdefault(inv.function, []).append(inv.duration_s)
    return "function runs: " + ", ".join(
        f"{name} {len(t)} x (total {sum(t):.0f}s)" for name, t in sorted(totals.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        type=Path,
        default=scenario_file.DEFAULT,
        help="YAML: days, seed, label_delay_days, rows_per_day, incidents (demo/scenario_file.py)",
    )
    parser.add_argument("--days", type=int, help="override the scenario's days")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo")
    args = parser.parse_args(argv)
    try:
        sc = scenario_file.load(args.scenario).overridden(args.days, args.seed)
    except scenario_file.ScenarioError as exc:
        parser.error(str(exc))
    run(sc, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
