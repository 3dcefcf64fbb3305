"""`make demo`: a month of production on the deployed stack, incidents included.

    python -m demo --days 30 --seed 7

Starts moto_server, applies the real Terraform to it, and drives the local executor:
each simulated day the labels of an earlier batch arrive, with the labels known so far
of the more recent ones, and a new batch is uploaded through S3; the clock moves on so
the schedules fire. Every function run is the deployed handler code; the runner only
uploads data, moves the clock and reads results back. It ends with a timeline and
writes build/demo/report.json + report.html.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

from data.generate import label_increment
from demo import report as demo_report
from demo import report_html
from demo import scenario as plan
from deployment import deploy
from deployment.clients import client
from layers.build import build
from local_aws.emulator import running_emulator
from local_aws.executor import Executor
from mlcycle import storage
from mlcycle.breaker.state import read_state
from mlcycle.config import ModelConfig, load_config
from mlcycle.objectstore import ObjectStore
from mlcycle.registry import ModelRegistry
from mlcycle.scoring import published_manifest
from mlcycle.storage import Buckets

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "build" / "packages"
MODEL_CONFIG = ROOT / "model" / "model_config.yml"
LABELS_AT, BATCH_AT = dt.timedelta(hours=6), dt.timedelta(hours=12)
# A retrain takes hours in production; modelled on the virtual clock, a batch that arrives
# meanwhile meets an open breaker and is held.
RETRAIN_TAKES = dt.timedelta(hours=8)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _breach(breach: dict) -> str:
    """A rule's trip names the rule; a threshold from monitoring.alarms, the metric and value."""
    return breach["rule"] if "rule" in breach else f"{breach['metric']} {breach['value']:.2f}"


def _progress(rec: demo_report.DayRecord, sc: plan.Scenario, status: dict) -> str:
    incident = sc.incident_on(rec.day)
    flags = f" [{incident.type}]" if incident else ""
    return (
        f"day {rec.day:2d} {sc.date(rec.day)}  breaker {rec.breaker_state:9s} "
        f"champion {rec.champion}  "
        f"batch {status.get('status', '-'):10s}{flags}  " + "; ".join(rec.notes)
    )


class Run:
    def __init__(self, sc: plan.Scenario, cfg: ModelConfig, url: str, outputs: dict, out_dir: Path):
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
        )
        self.records: list[demo_report.DayRecord] = []

    def _put(self, key: str, body: bytes) -> None:
        self.store.put_bytes(self.buckets.data, key, body)

    def _dated(self, day: int, through: dt.date) -> dt.date:
        """The increment's name date on the platform's calendar. The handlers' clock is the
        wall clock while the demo compresses a month into minutes, and the early-label rule
        compares batches by the age of their labels (increment date - publication date), so
        an increment is named by the batch's real publication date plus its simulated age."""
        manifest = published_manifest(self.store, self.buckets, self.sc.batch_id(day), True)
        if manifest is None:  # not published (held): its labels wait like the batch
            return through
        published = dt.datetime.fromisoformat(manifest["published_at"]).date()
        return published + (through - self.sc.date(day))

    def _state(self) -> tuple[str, str | None]:
        state = read_state(self.store, self.buckets.monitoring)[0]["state"]
        return state, ModelRegistry(self.store, self.buckets.models, self.cfg.name).champion()

    def _notes(self, invocations) -> list[str]:
        notes = []
        for inv in invocations:
            if not inv.ok:
                notes.append(
                    f"{inv.function} FAILED: {(inv.error or {}).get('errorMessage', '')[:80]}"
                )
            elif (
                inv.function == self.functions["train"]
                and isinstance(inv.result, dict)
                and inv.result.get("version")
            ):
                notes.append(f"trained {inv.result['version']} ({inv.result['status']})")
            elif inv.function == self.functions["infer"] and isinstance(inv.result, dict):
                for r in inv.result.get("results", []):
                    if r.get("gate") and r.get("status") == "held":
                        notes.append(
                            f"{r['batch_id']}: gate tripped {', '.join(r['gate']['trips'])}"
                        )
                    elif r.get("warnings"):
                        where = "on probation" if r.get("probation") else "published"
                        notes.append(f"{r['batch_id']}: {where}, warns {', '.join(r['warnings'])}")
            elif inv.function == self.functions["monitor"] and isinstance(inv.result, dict):
                for r in inv.result.get("results", []):
                    if r.get("breaches"):
                        notes.append(
                            f"{r['batch_id']}: " + ", ".join(_breach(b) for b in r["breaches"])
                        )
        return notes

    def bootstrap(self) -> dict:
        for key, body in plan.training_files(self.sc).items():
            self._put(key, body)
        return self.executor.invoke(self.functions["train"], {"actor": "demo bootstrap"})

    def day(self, day: int) -> demo_report.DayRecord:
        rec = demo_report.DayRecord(day, started=_now())
        ran = self.executor.advance(LABELS_AT)
        arriving = {}
        labelled = self.sc.labels_due(day)
        if labelled:
            labels = plan.day_batch(self.sc, labelled).labels
            arriving[storage.labels_key(self.sc.batch_id(labelled))] = labels
        for partly, through, after in self.sc.increments_due(day):
            key = storage.label_increment_key(
                self.sc.batch_id(partly), self._dated(partly, through).isoformat()
            )
            arriving[key] = label_increment(plan.day_batch(self.sc, partly), through, after)
        for key, frame in arriving.items():
            self._put(key, plan.csv_bytes(frame))
        if arriving:
            ran += self.executor.settle()
        ran += self.executor.advance(BATCH_AT - LABELS_AT)
        batch = plan.day_batch(self.sc, day)
        batch_id = self.sc.batch_id(day)
        self._put(storage.incoming_key(batch_id, "bookings"), plan.csv_bytes(batch.bookings))
        self._put(storage.incoming_key(batch_id, "hotels"), plan.csv_bytes(batch.hotels))
        ran += self.executor.settle()
        ran += self.executor.advance(dt.timedelta(days=1) - BATCH_AT)
        rec.ended = _now()
        rec.breaker_state, rec.champion = self._state()
        rec.notes = self._notes(ran)
        rec.breaches = [
            n for n in rec.notes if ":" in n and "FAILED" not in n and not n.startswith("trained")
        ]
        self.records.append(rec)
        return rec


def run(days: int, seed: int, out_dir: Path) -> dict:
    sc = plan.build(days, seed)
    cfg = load_config(MODEL_CONFIG)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(
        f"mlcycle demo: {days} days, seed {seed}, incidents: "
        + ", ".join(
            f"{i.type} day {i.day}" + (f"-{i.last_day}" if i.last_day > i.day else "")
            for i in sc.incidents
        ),
        flush=True,
    )
    build(PACKAGES)
    with running_emulator(log_path=out_dir / "moto_server.log") as url:
        state_dir = out_dir / "terraform"
        shutil.rmtree(state_dir, ignore_errors=True)
        outputs = deploy.apply(url, "layer", state_dir=state_dir, quiet=True)
        print(
            f"stack applied to {url} in {time.monotonic() - started:.0f}s: "
            + ", ".join(sorted(outputs["function_names"].values())),
            flush=True,
        )
        r = Run(sc, cfg, url, outputs, out_dir)
        first = r.bootstrap()
        print(
            f"first training: {first.get('version')} {first.get('status')} "
            f"(accuracy {first.get('metrics', {}).get('accuracy', 0):.3f}, "
            f"prior {first.get('baseline', {}).get('accuracy', 0):.3f})",
            flush=True,
        )
        for day in range(1, days + 1):
            rec = r.day(day)
            status = {"status": demo_report.batch_outcome(r.store, r.buckets, sc.batch_id(day))}
            print(_progress(rec, sc, status), flush=True)
        r.executor.close()
        print(_workload(r.executor.invocations), flush=True)
        report = demo_report.collect(r.store, r.buckets, cfg.name, sc, r.records)
    report["seconds"] = round(time.monotonic() - started, 1)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    paths = report_html.render(report, out_dir)
    print(timeline(report))
    print(f"\nreport: {out_dir / 'report.json'}  {paths['html']}  ({report['seconds']:.0f}s)")
    return report


def _workload(invocations) -> str:
    """How many runs each deployed function made, and their time: where a demo's minutes go."""
    totals: dict[str, list[float]] = {}
    for inv in invocations:
        totals.setdefault(inv.function, []).append(inv.duration_s)
    return "function runs: " + ", ".join(
        f"{name} {len(t)} x (total {sum(t):.0f}s)" for name, t in sorted(totals.items())
    )


def timeline(report: dict) -> str:
    head = (
        f"{'day':>3} {'rows':>5} {'champion':8} {'breaker':9} {'batch':21} "
        f"{'JoinCov':>7} {'MaxPSI':>6} {'PredDr':>6} "
        f"{'EstAcc':>6} {'RealAcc':>7}  events"
    )
    lines = ["", head, "-" * len(head)]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for d in report["days"]:
        m = d["metrics"]
        lines.append(
            f"{d['day']:>3} {d['rows'] or '-':>5} {d['champion'] or '-':8} "
            f"{d['breaker_state']:9} {d['batch_status']:21} "
            f"{fmt(m['JoinCoverage']):>7} {fmt(m['MaxPSI']):>6} {fmt(m['PredictionDrift']):>6} "
            f"{fmt(m['EstimatedAccuracy']):>6} {fmt(m['RealisedAccuracy']):>7}  "
            f"{'; '.join(d['events'])[:120]}"
        )
    lines.append("")
    for i in report["incidents"]:
        lines.append(
            f"incident {i['type']:16} day {i['day']:>2}: detected {i['detected_day']}, "
            f"breaker opened {i['breaker_opened_day']}, recovered {i['recovered_day']}"
        )
    lines.append(
        "published bad predictions after a trip: "
        f"{report['published_bad_predictions_after_trip']}; "
        f"false trips: {report['false_trips']}; outcome: {report['outcome']}; "
        f"estimated vs realised accuracy MAE: {report['accuracy_estimate_mae']} "
        f"(clean days {report['accuracy_estimate_mae_clean_days']})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo")
    args = parser.parse_args(argv)
    run(args.days, args.seed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
