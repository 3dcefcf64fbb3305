"""Which recovery window keeps clean-day accuracy and learns a concept drift: measured.

A demo-like world per seed: 20,000 training rows (2025), then 2,000-row daily batches from
2026-01-01 whose complete labels have arrived. Two situations a recovery retrain meets:

- clean: the world did not change (a false trip, an input incident); 20 + k labelled clean
  batches. A recovery model must be at least as accurate on the next clean days as the
  full-data champion (scheduled training on the same rows).
- drift: 20 clean batches, then k labelled batches of the generator's concept_drift
  (cancellations rise; `--shifts` sets the log-odds shift, 2.0 is the demo's). A recovery
  model should beat the champion trained before the drift on the drifted days that follow.

Each variant is fitted the platform's way (`mlcycle.fitting.fit_and_profile` on the contract's
typed, joined frame), with the split training would use:
- `newest1`: the behaviour before issue 11, the newest labelled batch alone;
- `N=n w=x`: every row, the newest n batches repeated x times, judged on the newest labels
  (the `weighted` fit of `mlcycle.training_window.recovery_splits`); w=1 is an unweighted full
  retrain;
- with `--select x`: `N=n recent`, `N=n newest` (those n batches alone, the newest alone, on
  the same holdout), `N=n priors` (the champion re-weighted to the newest batch's class mix,
  `mlcycle.prior_shift`) and `best of ...`, the fit the recovery offers
  (`mlcycle.recovery_fits.pick` on the newest labels' log loss: what the platform does).
The table's `in_charge` counts the champion's accuracy when the gate would keep it: what a
recovery leaves in charge.
The recovery gate's call is measured too: the challenger replaces the champion only if its log
loss on the newest labels (the holdout's fresh rows) beats the champion's by the margin; the
table counts how often that call agrees with the test days (ground truth: lower log loss on
three later days). The choice on the last line: the variant with the largest mean gain on the
drifted days among those within a quarter point of the champion on clean days.

    python bench/bench_recovery.py              # 5 seeds, about 10 minutes here
    python bench/bench_recovery.py --windows 1 3 5 --weights 1 2 3 5 10 --ks 1 2 3
    python bench/bench_recovery.py --ks 1 2 3 --weights 3 --select 3   # the recovery's choice
    python bench/bench_recovery.py --quick      # 1 seed, 2 weights and the choice: a smoke run

The last line is ``recovery_choice=<variant> clean_gap=<pts> drift_gain=<pts>`` for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when scikit-learn's OpenMP loads

import numpy as np
import pandas as pd

from data import signal
from data.generate import make_batch, make_training
from mlcycle.attributes import index_attributes, join
from mlcycle.config import ModelConfig, SourceSpec, load_config
from mlcycle.datasets import feature_frame
from mlcycle.evaluation import score
from mlcycle.fitting import fit_and_profile
from mlcycle.plugin import Plugin, load_plugin
from mlcycle.recovery_fits import pick, reweighted_champion
from mlcycle.sources import SourceReader
from mlcycle.training import fresh_rows
from mlcycle.training_window import Split, recovery_splits

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "model" / "model_config.yml"
TRAINING_ROWS, BATCH_ROWS, CLEAN_BATCHES = 20_000, 2_000, 20
START = dt.date(2026, 1, 1)
TEST_AFTER = 4  # test days start this many days after the newest labelled batch (label delay 3)
TEST_DAYS = 3


def _read(cfg: ModelConfig, frame: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    stream = io.BytesIO(frame.to_csv(index=False).encode())
    return SourceReader(stream, spec, f"{spec.name}.csv", cfg.join_key, cfg.chunk_rows).read_all()


def _joined(cfg: ModelConfig, bookings: pd.DataFrame, hotels: pd.DataFrame) -> pd.DataFrame:
    hotel_spec = cfg.attribute_sources[0]
    attrs = index_attributes(hotel_spec.name, _read(cfg, hotels, hotel_spec), cfg.join_key)
    frame, _ = join(_read(cfg, bookings, cfg.target_source), [attrs], cfg.join_key)
    return frame


def _batch(cfg: ModelConfig, seed: int, day: int, shift: float | None) -> pd.DataFrame:
    saved = signal.DRIFT_CANCEL_SHIFT
    if shift is not None:
        signal.DRIFT_CANCEL_SHIFT = shift
    try:
        batch = make_batch(
            START + dt.timedelta(days=day - 1),
            BATCH_ROWS,
            seed,
            None if shift is None else "concept_drift",
        )
    finally:
        signal.DRIFT_CANCEL_SHIFT = saved
    bookings = batch.bookings.merge(batch.labels, on=cfg.join_key)
    return _joined(cfg, bookings, batch.hotels)


@dataclass
class World:
    """One seed's history: the training sources and every batch (None: a clean day)."""

    cfg: ModelConfig
    seed: int
    shift: float | None

    def __post_init__(self) -> None:
        bookings, hotels = make_training(TRAINING_ROWS, self.seed)
        self.training = _joined(self.cfg, bookings, hotels)
        self._batches: dict[int, pd.DataFrame] = {}

    def batch(self, day: int) -> pd.DataFrame:
        if day not in self._batches:
            drifted = self.shift is not None and day > CLEAN_BATCHES
            self._batches[day] = _batch(self.cfg, self.seed, day, self.shift if drifted else None)
        return self._batches[day]

    def history(self, labelled: int) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        """(training + older batches, batches newest first) with `labelled` batches in."""
        batches = [self.batch(d) for d in range(labelled, 0, -1)]
        return [self.training], batches

    def test(self, labelled: int) -> pd.DataFrame:
        first = labelled + TEST_AFTER
        return pd.concat([self.batch(d) for d in range(first, first + TEST_DAYS)])


def _fit(cfg: ModelConfig, plugin: Plugin, frame: pd.DataFrame, split: Split | None = None):
    return fit_and_profile(cfg, plugin, frame, {"hotels": 0.97}, split)


def _on(cfg: ModelConfig, plugin: Plugin, model: object, frame: pd.DataFrame) -> dict:
    return score(frame[cfg.target], plugin.predict(model, feature_frame(frame, cfg)), cfg.classes)


def _variant(cfg, plugin, base, batches, recent: int, weight: int, fit: str, champion):
    frame = pd.concat([*base, *batches], ignore_index=True)
    # The batches follow the base newest first: batch i has recency i, the base -1.
    recency = np.concatenate(
        [np.full(sum(len(b) for b in base), -1)]
        + [np.full(len(b), i) for i, b in enumerate(batches)]
    )
    splits = recovery_splits(frame, recency, cfg.time_column, cfg.holdout_fraction, weight, recent)
    if fit != "priors":
        return _fit(cfg, plugin, frame, splits[fit])
    holdout = splits["weighted"].holdout
    fresh = fresh_rows(cfg, holdout)
    target = holdout[cfg.target][fresh].reset_index(drop=True)
    features = feature_frame(holdout, cfg)[fresh].reset_index(drop=True)
    (split, model, _), _ = reweighted_champion(cfg, plugin, splits, champion, features, target)
    return fit_and_profile(cfg, plugin, frame, {"hotels": 0.97}, split, None, model)


def _fresh_log_loss(cfg, plugin, fitted, champion) -> tuple[float, float]:
    fresh = fresh_rows(cfg, fitted.holdout)
    rows = fitted.holdout[fresh]
    return _on(cfg, plugin, fitted.model, rows)["log_loss"], _on(cfg, plugin, champion, rows)[
        "log_loss"
    ]


def run(seeds, shifts, ks, variants, select=()) -> list[dict]:
    cfg = load_config(CONFIG)
    plugin = load_plugin(cfg, CONFIG.parent)
    rows = []
    for seed in seeds:
        for shift in [None, *shifts]:
            world = World(cfg, seed, shift)
            before = _fit(cfg, plugin, pd.concat([world.training, *world.history(20)[1]]))
            for k in ks:
                labelled = CLEAN_BATCHES + k
                base, batches = world.history(labelled)
                test = world.test(labelled)
                champion = (
                    before.model
                    if shift is not None
                    else _fit(cfg, plugin, pd.concat([*base, *batches])).model
                )
                champ = _on(cfg, plugin, champion, test)
                for name, recent, weight, fit in variants:
                    started = time.monotonic()
                    if name == "newest1":
                        fitted = _fit(cfg, plugin, batches[0])
                    else:
                        fitted = _variant(cfg, plugin, base, batches, recent, weight, fit, champion)
                    got = _on(cfg, plugin, fitted.model, test)
                    challenger_ll, champion_ll = _fresh_log_loss(cfg, plugin, fitted, champion)
                    promote = challenger_ll <= champion_ll - cfg.promotion.min_improvement
                    rows.append(
                        {
                            "seed": seed,
                            "world": "clean" if shift is None else f"drift {shift}",
                            "k": k,
                            "variant": name,
                            "accuracy": got["accuracy"],
                            "log_loss": got["log_loss"],
                            "champion_accuracy": champ["accuracy"],
                            "champion_log_loss": champ["log_loss"],
                            "promote": promote,
                            "right_call": promote == (got["log_loss"] < champ["log_loss"]),
                            "holdout_log_loss": challenger_ll,
                            "seconds": time.monotonic() - started,
                        }
                    )
                    print(
                        f"seed {seed} {rows[-1]['world']:9} k={k} {name:10} "
                        f"acc {got['accuracy']:.4f} (champion {champ['accuracy']:.4f}) "
                        f"promote={promote} right={rows[-1]['right_call']} "
                        f"{rows[-1]['seconds']:.1f}s",
                        flush=True,
                    )
                if select:
                    margin = cfg.promotion.min_improvement
                    rows.append(_selected(rows[-len(variants) :], select, margin))
    return rows


def _selected(rows: list[dict], select: list[str], margin: float) -> dict:
    """The recovery that fits every variant in `select` and offers the one
    `mlcycle.recovery_fits.pick` picks on the newest labels: the same rows judge it against the
    champion."""
    last = {r["variant"]: r for r in rows if r["variant"] in select}
    chosen = pick({n: last[n]["holdout_log_loss"] for n in select}, "log_loss", margin)
    return {**last[chosen], "variant": "best of " + "|".join(select), "picked": chosen}


def summarise(rows: list[dict]) -> str:
    table = pd.DataFrame(rows)
    table["gap"] = 100 * (table["accuracy"] - table["champion_accuracy"])
    # What a recovery leaves in charge: its model when the gate promoted it, else the champion.
    table["in_charge"] = table["gap"].where(table["promote"], 0.0)
    grouped = table.groupby(["world", "k", "variant"], sort=False)
    out = grouped.agg(
        gap_mean=("gap", "mean"),
        gap_min=("gap", "min"),
        in_charge=("in_charge", "mean"),
        in_charge_min=("in_charge", "min"),
        promoted=("promote", "mean"),
        right=("right_call", "mean"),
    )
    print("\naccuracy minus champion's, points (mean, worst seed); gate: promoted share, right")
    print(out.round(3).to_string())
    clean = table[table["world"] == "clean"].groupby("variant")
    drift = table[table["world"] != "clean"].groupby("variant")
    summary = pd.DataFrame(
        {
            "clean_mean": clean["gap"].mean(),
            "clean_min": clean["gap"].min(),
            "clean_in_charge_min": clean["in_charge"].min(),
            "drift_mean": drift["gap"].mean(),
            "drift_min": drift["gap"].min(),
            "drift_in_charge": drift["in_charge"].mean(),
        }
    )
    print("\nover every k and seed:")
    print(summary.round(3).to_string())
    eligible = summary[summary["clean_mean"] >= -0.25]
    best = (eligible if len(eligible) else summary)["drift_mean"].idxmax()
    return (
        f"recovery_choice={best.replace(' ', '_')} "
        f"clean_gap={summary.loc[best, 'clean_mean']:.3f} "
        f"drift_gain={summary.loc[best, 'drift_mean']:.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--shifts", type=float, nargs="+", default=[2.0, 0.6])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 3], help="drifted batches")
    parser.add_argument("--windows", type=int, nargs="+", default=[3], help="recent batches")
    parser.add_argument("--weights", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument(
        "--select",
        type=int,
        nargs="*",
        default=[],
        help="the first window's fits offered together (these weights, its recent batches "
        "alone, its newest alone): the best on the newest labels is the recovery's challenger",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.ks, args.windows, args.weights = [1], [1, 3], [3], [1, 3]
        args.select = [3]
    variants = [("newest1", 1, 1, "")] + [
        (f"N={n} w={w}", n, w, "weighted") for n in args.windows for w in args.weights
    ]
    if args.select:
        n = args.windows[0]
        variants += [
            (f"N={n} {fit}", n, args.select[0], fit) for fit in ("recent", "newest", "priors")
        ]
    started = time.monotonic()
    n = args.windows[0]
    select = [f"N={n} w={w}" for w in args.select] + (
        [f"N={n} recent", f"N={n} newest", f"N={n} priors"] if args.select else []
    )
    unknown = set(select) - {name for name, *_ in variants}
    if unknown:
        parser.error(f"--select weights must be among --weights: {sorted(unknown)}")
    rows = run(args.seeds, args.shifts, args.ks, variants, select)
    line = summarise(rows)
    print(f"\n{time.monotonic() - started:.0f}s")
    print(line)


if __name__ == "__main__":
    main()
