"""Where each rule's normal range comes from: the reference at registration, then recent
healthy batches.

At registration training measures, on the holdout, the value every statistic has on clean
data (``reference_limits``; it is part of the signed model version). A statistic that is a
share of rows (join coverage, a null rate, accuracy) has a per-row variance p(1 - p), so its
spread shrinks as 1/sqrt(rows): the limit scales with each batch's size. Once the window
object holds enough healthy batches, their values replace the reference's centre and add
the day-to-day spread rows alone do not explain (``tau``), so a limit is never tighter than
what production has shown to be normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import calibration
from .batchstats import BatchStats, Layout
from .labelstats import LabelStats

LIMITS_FORMAT = "mlcycle.limits/1"
MIN_SHARE = 0.001  # a share measured as 0 still varies a little: floors p(1 - p)


@dataclass(frozen=True)
class Observation:
    """One statistic of one batch: a rule may have several (a part per source or column)."""

    rule: str
    part: str | None
    value: float
    rows: float  # what the value is a mean over
    kind: str  # "share" (variance p(1-p)), "ratio" (Poisson count / expectation), "mean"
    row_variance: float | None = None  # for "mean": measured on the batch itself
    # Parts that are one quantity seen at different times (partial labels by age) accumulate
    # as one sequence: the newest part stands for the batch.
    one_sequence: bool = False
    # The instrument's own error (the calibration table's, for the accuracy estimate): shared
    # by every batch it measures, so it cancels against a window of the same version's values
    # but not against the holdout's, where the table was fitted.
    instrument_variance: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.rule}/{self.part}" if self.part else self.rule

    @property
    def sequence_key(self) -> str:
        return self.rule if self.one_sequence else self.key

    def variance_at(self, centre: float) -> float:
        """Per-row variance if the batch were normal with this centre."""
        if self.kind == "share":
            p = min(max(centre, MIN_SHARE), 1 - MIN_SHARE)
            return p * (1 - p)
        if self.kind == "ratio":
            return max(centre, MIN_SHARE)
        return self.row_variance or 0.0


def reference_limits(
    layout: Layout,
    holdout: list[tuple[BatchStats, LabelStats]],
    top: np.ndarray,
    correct: np.ndarray,
    coverage: dict[str, float],
) -> dict:
    """What training stores with the version: confidence bins and their holdout accuracy, the
    clean value of every statistic (join coverage from the training join) and its spread.

    ``holdout`` is the holdout cut into consecutive slices of time. How much a statistic
    moves between slices beyond what their row counts explain (``spread``, a standard
    deviation) is the season's share of normal variation: the holdout is the latest data but
    not the same weeks as production, and a limit that ignored it would trip on the calendar.
    """
    holdout_table = calibration.labelled_bins(top, correct, list(layout.confidence_edges))
    table = calibration.table(holdout_table, [], 0)
    whole = holdout[0][0]
    for stats, _ in holdout[1:]:
        whole = whole.merge(stats)
    labels = _merged_labels([lab for _, lab in holdout])
    found = [
        o
        for o in observations(layout, whole, labels, table)
        if o.rule not in ("JoinCoverage", "EarlyPositiveRate")
    ]
    values = {o.key: o.value for o in found}
    parts = [{o.key: o for o in observations(layout, stats, lab, table)} for stats, lab in holdout]
    spread = {}
    for o in found:
        seen = [p[o.key] for p in parts if o.key in p]
        if len(seen) >= 3:
            between = float(np.var([s.value for s in seen], ddof=1))
            sampling = float(np.mean([s.variance_at(o.value) / s.rows for s in seen]))
            spread[o.key] = float(np.sqrt(max(between - sampling, 0.0)))
    values.update({f"JoinCoverage/{s}": float(c) for s, c in coverage.items()})
    return {
        "format": LIMITS_FORMAT,
        "rows": whole.rows,
        "calibration": {"edges": list(layout.confidence_edges), **holdout_table},
        "reference": values,
        "spread": spread,
    }


def _merged_labels(parts: list[LabelStats]) -> LabelStats:
    binned = [p.bins for p in parts if p.bins is not None]
    bins = None
    if binned:
        bins = {
            field: np.sum([b[field] for b in binned], axis=0).astype(int).tolist()
            for field in ("rows", "correct")
        }
    return LabelStats(
        complete=True,
        age_days=None,
        rows=sum(p.rows for p in parts),
        labelled=sum(p.labelled for p in parts),
        correct=sum(p.correct for p in parts),
        positive_known=sum(p.positive_known for p in parts),
        positive_expected=sum(p.positive_expected for p in parts),
        positive_predicted_on_labelled=sum(p.positive_predicted_on_labelled for p in parts),
        bins=bins,
    )


def observations(
    layout: Layout,
    stats: BatchStats,
    labels: LabelStats | None,
    table: calibration.Table | None,
) -> list[Observation]:
    """Every statistic the rules judge, from a batch's counts (and labels when there are any)."""
    n = stats.rows
    found: list[Observation] = []
    if n == 0:
        return found
    found += [
        Observation("JoinCoverage", source, hits / n, n, "share")
        for source, hits in stats.matched.items()
    ]
    found += [
        Observation("NullRate", column, missing / n, n, "share")
        for column, missing in stats.nulls.items()
    ]
    found.append(Observation("ViolationRate", None, stats.violations / n, n, "share"))
    scored = int(stats.confidence.sum())
    if table is not None and scored:
        estimate = calibration.estimate(stats.confidence, table)
        assert estimate is not None
        found.append(
            Observation(
                "EstimatedAccuracy",
                None,
                estimate["expected_accuracy"],
                scored,
                "mean",
                estimate["row_variance"],
                instrument_variance=estimate["standard_error"] ** 2,
            )
        )
    if scored and layout.positive_class is not None:
        mean = stats.positive_sum / scored
        spread = max(stats.positive_sq / scored - mean * mean, 0.0)
        found.append(Observation("PositiveRate", None, mean, scored, "mean", spread))
    if labels is not None and labels.labelled:
        found += _label_observations(labels, table)
    return found


def _label_observations(labels: LabelStats, table: calibration.Table | None) -> list[Observation]:
    if not labels.complete:
        return []  # partial labels are judged against their own history (``early``)
    m = labels.labelled
    found = [Observation("RealisedAccuracy", None, labels.correct / m, m, "share")]
    realised = labels.positive_known / m
    found.append(
        Observation(
            "PositiveRateGap",
            None,
            realised - labels.positive_predicted_on_labelled / m,
            m,
            "mean",
            realised * (1 - realised),
        )
    )
    if labels.bins is not None and table is not None:
        # What the calibrated estimate said of these very rows, against what they proved.
        estimated = float(np.asarray(labels.bins["rows"], dtype="float64") @ table.accuracy)
        found.append(
            Observation("EstimateError", None, (estimated - labels.correct) / m, m, "share")
        )
    return found


@dataclass(frozen=True)
class Expected:
    centre: float
    sd: float
    source: str  # "window", "reference", "earlier versions" (the early rule's, borrowed)
    batches: int = 0


def expected(
    observation: Observation,
    limits: dict,
    history: list[tuple[float, float]],
    min_window: int,
) -> Expected | None:
    """Normal centre and standard deviation for this batch's size; None without any basis.

    ``history`` is (value, rows) of the statistic in recent healthy batches. A centre estimated
    from m batches is itself uncertain, which widens the range by its own variance.
    """
    n = observation.rows
    if len(history) >= min_window:
        values = np.array([v for v, _ in history], dtype="float64")
        sizes = np.array([r for _, r in history], dtype="float64")
        centre = float(values.mean())
        sampling = observation.variance_at(centre) / np.maximum(sizes, 1.0)
        tau2 = max(float(values.var(ddof=1)) - float(sampling.mean()), 0.0)
        spread = observation.variance_at(centre) / n + tau2
        uncertainty = (float(sampling.mean()) + tau2) / len(values)
        return Expected(centre, float(np.sqrt(spread + uncertainty)), "window", len(values))
    if observation.key not in limits["reference"]:
        return None
    centre = limits["reference"][observation.key]
    season = limits.get("spread", {}).get(observation.key, 0.0)
    variance = observation.variance_at(centre) / n + season**2
    sd = float(np.sqrt(variance + observation.instrument_variance))
    return Expected(centre, sd, "reference")


def standardised(observation: Observation, normal: Expected) -> float:
    return (observation.value - normal.centre) / normal.sd if normal.sd > 0 else 0.0


@dataclass(frozen=True)
class Version:
    """A model version as the rules see it: its name, where its statistics are binned, and
    the limits and reference profile it was registered (and signed) with."""

    name: str
    layout: Layout
    limits: dict
    profile: dict
