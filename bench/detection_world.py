"""The platform's detection path in-process, and the incidents the detection benchmark injects.

The example model is trained once, without AWS, on `data.generate.make_training` (the demo's
20,000 rows, seed 7) with `mlcycle.fitting.fit_and_profile`, so its reference profile and
limits are the ones training would register. A batch then goes the platform's way: both CSVs
read by `SourceReader` under the data contract, joined by `mlcycle.attributes`, scored by the
plug-in and counted into `BatchStats` (what infer does before publication); the judgement is
`mlcycle.monitoring.judge.judge`, the one function the gate and the monitor share, with the
window entries the monitor would write (`mlcycle.verdicts.remember`'s format).

Incidents are made from the clean batch of the same seed and day, so each effect is measured
against that very batch:

- outage: each hotel row that matches a booking is kept with probability
  coverage / (the batch's clean coverage), so join coverage scatters around the target;
- market: every hotel of one country removed from the hotels file;
- corruption: lead time (day_distance) x factor, with check_in and check_out moved to match
  (day_distance alone is refused by the data contract);
- campaign (benign): the generator's covariate_shift with the share of last-minute bookings
  set to the magnitude; labels from the same labelling function;
- concept: the generator's concept_drift (cancellations rise) with the log-odds shift set so
  the accuracy loss is about 2, 5 and 10 points;
- stay boundary: the snapshot that separates booked from fulfilled moves (a drift partial
  labels barely see: those statuses are known only at check-in and check-out).

Campaign, concept and stay boundary override a generator constant for one call (restored after).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from types import ModuleType

os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when scikit-learn's OpenMP loads

import numpy as np
import pandas as pd

from data import draw as world
from data import signal
from data.generate import Batch, label_increment, make_batch, make_training
from mlcycle.attributes import attributes_from_frames, index_attributes, join
from mlcycle.config import SourceSpec, load_config
from mlcycle.datasets import feature_frame
from mlcycle.fitting import fit_and_profile
from mlcycle.monitoring import window as windows
from mlcycle.monitoring.batchstats import BatchStats, Layout
from mlcycle.monitoring.judge import Version, judge
from mlcycle.monitoring.labelstats import LabelStats, label_stats, label_timing
from mlcycle.monitoring.overdue import RULE, Overdue, overdue_rows, verdict
from mlcycle.plugin import load_plugin
from mlcycle.sources import SourceReader

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "model" / "model_config.yml"
TRAINING_ROWS, TRAINING_SEED = 20_000, 7
VERSION = "bench"


@dataclass
class Scored:
    """A batch as infer leaves it: its statistics, predictions and keys."""

    batch: Batch
    stats: BatchStats
    predicted: np.ndarray
    proba: pd.DataFrame
    keys: pd.Series
    timing: tuple[np.ndarray, int] | None

    @property
    def accuracy(self) -> float:
        truth = self.batch.labels.set_index("hotel_id")["status"].reindex(self.keys.to_numpy())
        return float(np.mean(truth.to_numpy() == self.predicted))


class Platform:
    """The example model trained once; scoring and judging a batch as the platform does."""

    def __init__(self) -> None:
        cfg = self.cfg = load_config(CONFIG)
        self.plugin = load_plugin(cfg, CONFIG.parent)
        bookings, hotels = make_training(TRAINING_ROWS, TRAINING_SEED)
        files = {cfg.target_source.name: bookings, "hotels": hotels}
        base = self._read(files[cfg.target_source.name], cfg.target_source, "training").read_all()
        attributes = [
            index_attributes(
                s.name, self._read(files[s.name], s, "training").read_all(), cfg.join_key
            )
            for s in cfg.attribute_sources
        ]
        frame, coverage = join(base, attributes, cfg.join_key)
        fitted = fit_and_profile(cfg, self.plugin, frame, coverage)
        self.model, self.profile, self.limits = fitted.model, fitted.profile, fitted.limits
        self.holdout_accuracy = fitted.metrics["accuracy"]
        self.layout = Layout.of(
            self.profile, self.limits, [s.name for s in cfg.attribute_sources], cfg.positive_class
        )
        self.version = Version(VERSION, self.layout, self.limits, self.profile)

    def _read(self, frame: pd.DataFrame, spec: SourceSpec, where: str) -> SourceReader:
        stream = io.BytesIO(frame.to_csv(index=False).encode())
        return SourceReader(
            stream, spec, f"{where}/{spec.name}.csv", self.cfg.join_key, self.cfg.chunk_rows
        )

    def score(self, batch: Batch) -> Scored:
        cfg = self.cfg
        files = {cfg.input_spec.name: batch.bookings, "hotels": batch.hotels}
        readers = [self._read(files[s.name], s, batch.day) for s in cfg.attribute_sources]
        attributes = [
            attributes_from_frames(r.spec.name, (c.frame for c in r), cfg.join_key) for r in readers
        ]
        bookings = self._read(files[cfg.input_spec.name], cfg.input_spec, batch.day)
        joined, coverage = join(bookings.read_all(), attributes, cfg.join_key)
        features = feature_frame(joined, cfg)
        predictions = self.plugin.predict(self.model, features)
        stats = BatchStats.empty(self.layout)
        matched = {k: int(round(v * len(features))) for k, v in coverage.items()}
        inputs = self.plugin.model_inputs(self.model, features)
        stats.add(self.layout, features, predictions.labels, predictions.proba, matched, inputs)
        stats.violations = sum(
            n for r in readers + [bookings] for n in r.summary.violations.values()
        )
        assert predictions.proba is not None
        keys = joined[cfg.join_key].astype(str).reset_index(drop=True)
        timing = label_timing(features, cfg.rules.timing_column, self.limits)
        return Scored(batch, stats, np.asarray(predictions.labels), predictions.proba, keys, timing)

    def labels(self, scored: Scored, age: int | None) -> LabelStats:
        """Complete labels (age None), or the increments known ``age`` days after publication."""
        cfg, batch = self.cfg, scored.batch
        frame = batch.labels if age is None else increment(batch, age)
        known = frame.drop_duplicates(cfg.join_key).set_index(cfg.join_key)[cfg.target]
        values = pd.Series(known.reindex(scored.keys.to_numpy()).to_numpy())
        stats = label_stats(
            scored.predicted,
            scored.proba,
            values,
            cfg.positive_class,
            list(self.layout.confidence_edges),
            complete=age is None,
            age_days=age,
            timing=scored.timing,
        )
        if age is None:
            return stats
        return replace(stats, due=astuple(self.overdue(scored, age, frame)))

    def overdue(self, scored: Scored, age: int, labelled: pd.DataFrame | None = None) -> Overdue:
        """The batch's rows its increment at ``age`` (``labelled``, when already drawn) should
        cover, and those it lacks."""
        cfg, bookings = self.cfg, scored.batch.bookings
        labelled = increment(scored.batch, age) if labelled is None else labelled
        known = bookings[cfg.join_key].isin(labelled[cfg.join_key]).to_numpy()
        return overdue_rows(bookings[cfg.rules.due_column], bookings[cfg.time_column], known, age)

    def first_labels(self, scored: Scored, window: dict) -> dict:
        """LabelsOverdue's verdict on the batch's first increment (age 0), as the monitor gives
        it to a batch held for its first labels."""
        history = windows.overdue_history(window, 0)
        return verdict(self.overdue(scored, 0), history, self.cfg.rules.rule(RULE))

    def judge(
        self, scored: Scored, window: dict, age: int | None = None, labelled: bool = False
    ) -> tuple[dict, dict]:
        """(verdicts, window with the batch's entry) for one monitoring moment: publication
        (no labels), partial labels at ``age``, or complete labels (``labelled``)."""
        known = self.labels(scored, age) if labelled or age is not None else None
        batch_id = scored.batch.day
        result = judge(self.version, scored.stats, known, window, self.cfg.rules, batch_id)
        entry = windows.entry(batch_id, VERSION, batch_id, scored.stats, result, known)
        return result, windows.upsert(window, entry, self.cfg.rules.window_batches)


def increment(batch: Batch, age: int) -> pd.DataFrame:
    """The labels known ``age`` days after the batch's day."""
    through = pd.Timestamp(batch.day) + pd.Timedelta(days=age)
    return label_increment(batch, through.date().isoformat())


# --- Incidents ----------------------------------------------------------------------------------


@contextlib.contextmanager
def world_constant(module: ModuleType, name: str, value: float) -> Iterator[None]:
    """The generator's constant `name` set to `value` for one draw, restored after it."""
    if not hasattr(module, name):
        raise SystemExit(f"{module.__name__}.{name} no longer exists: update this benchmark")
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _changed(batch: Batch, **parts: pd.DataFrame) -> Batch:
    return Batch(
        batch.day,
        parts.get("bookings", batch.bookings),
        parts.get("hotels", batch.hotels),
        batch.labels,
        "bench",
        batch.labels_known_on,
    )


def outage(batch: Batch, coverage: float, rng: np.random.Generator) -> Batch:
    hotels = batch.hotels
    booked = hotels["hotel_id"].isin(batch.bookings["hotel_id"]).to_numpy()
    clean = batch.bookings["hotel_id"].isin(hotels["hotel_id"]).mean()
    keep = ~booked | (rng.random(len(hotels)) < min(1.0, coverage / clean))
    return _changed(batch, hotels=hotels[keep].reset_index(drop=True))


def market_missing(batch: Batch, country: str) -> Batch:
    hotels = batch.hotels
    return _changed(batch, hotels=hotels[hotels["country_code"] != country].reset_index(drop=True))


def market_share(batch: Batch, country: str) -> float:
    listed = batch.hotels["hotel_id"][batch.hotels["country_code"] == country]
    return float(batch.bookings["hotel_id"].isin(listed).mean())


def lead_corrupted(batch: Batch, factor: float) -> Batch:
    bookings = batch.bookings.copy()
    lead = np.rint(bookings["day_distance"].to_numpy() * factor).astype(np.int64)
    bookings["day_distance"] = lead
    check_in = pd.to_datetime(bookings["date"]) + pd.to_timedelta(lead, unit="D")
    stay = pd.to_timedelta(bookings["length_of_stay"].to_numpy(), unit="D")
    bookings["check_in"] = check_in.dt.strftime("%Y-%m-%d")
    bookings["check_out"] = (check_in + stay).dt.strftime("%Y-%m-%d")
    return _changed(batch, bookings=bookings)


def campaign(batch: Batch, seed: int, share: float) -> Batch:
    with world_constant(world, "CAMPAIGN_SHARE", share):
        return make_batch(batch.day, len(batch.bookings), seed, "covariate_shift")


def last_minute_share(batch: Batch) -> float:
    return float((batch.bookings["day_distance"] <= world.CAMPAIGN_MAX_LEAD).mean())


def concept(batch: Batch, seed: int, shift: float) -> Batch:
    with world_constant(signal, "DRIFT_CANCEL_SHIFT", shift):
        drifted = make_batch(batch.day, len(batch.bookings), seed, "concept_drift")
    if not drifted.bookings.equals(batch.bookings):
        raise SystemExit("concept drift changed the inputs: update this benchmark")
    return drifted


def stay_boundary(batch: Batch, seed: int, days: float) -> Batch:
    with world_constant(signal, "SNAPSHOT_DAYS", days):
        return make_batch(batch.day, len(batch.bookings), seed)


def calibrate_shift(
    platform: Platform, target_loss: float, clean: list[tuple[int, Batch]]
) -> float:
    """The cancellation shift whose mean accuracy loss on these clean batches is target_loss
    (bisection; inputs stay those of the clean day, so only labels change)."""
    scored = [(seed, b, platform.score(b)) for seed, b in clean]

    def loss(shift: float) -> float:
        return float(
            np.mean(
                [
                    s.accuracy
                    - np.mean(s.predicted == concept(b, seed, shift).labels["status"].to_numpy())
                    for seed, b, s in scored
                ]
            )
        )

    low, high = 0.0, 6.0
    for _ in range(14):
        middle = (low + high) / 2
        low, high = (middle, high) if loss(middle) < target_loss else (low, middle)
    return (low + high) / 2
