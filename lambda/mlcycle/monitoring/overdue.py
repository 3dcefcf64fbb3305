"""Labels past their due date: the integrity rule partial labels give.

A row's label is known by a date the inputs name at the latest (the config's
`monitoring.label_due_column`; for the example model the check-out: a stay is fulfilled or
not by then). So a label increment must hold every row whose due date it has passed. Rows it
passed but lacks are overdue. When the label feed is healthy they are as rare as its own lags
make them; when the inputs lie about the dates (a lead time shrunk upstream moves check-in and
check-out earlier), rows fall due that the world has not settled yet. That is the one thing
that tells such a corruption from a real shift to shorter lead times, which drifts the same
column and is labelled on time.

The increment's date is on the platform's calendar, the due dates on the data's. A batch is
taken to hold the bookings made up to the day before it arrived (`time_column`), so at label
age a an increment has passed the due dates up to a + 1 days after the batch's newest row. A
feed that also delivers the arrival day's bookings then shows a few rows overdue on every
batch, and the normal share measured on recent batches absorbs them.

The verdict is a one-sided binomial test of the overdue count against the normal share of
recent batches at the same age. The config's own word is the prior: labels are known by the
due date, so half an overdue row in fifty due ones (1%) until the window has measured more; a
history of zeros then still leaves one late row far from a trip, and a feed that is habitually
late teaches its share within a few batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .rules import OK, TRIP, RuleSettings

RULE = "LabelsOverdue"
PRIOR_OVERDUE, PRIOR_DUE = 0.5, 50  # pseudo-rows: the config's promise, about 1% late


@dataclass(frozen=True)
class Overdue:
    """Of a batch's rows, how many its newest labels should cover by now, and how many of
    those they lack."""

    due: int
    overdue: int

    @property
    def share(self) -> float:
        return self.overdue / self.due if self.due else 0.0


def overdue_rows(
    due_dates: pd.Series, booked: pd.Series, known: np.ndarray, age_days: int
) -> Overdue:
    """Due and overdue rows at label age ``age_days``; ``known`` marks the rows labelled so far
    (aligned with the two date columns by position)."""
    due_on = _days(due_dates).to_numpy()
    newest = _days(booked).max()
    if pd.isna(newest):
        return Overdue(0, 0)
    passed = (newest + pd.Timedelta(days=age_days + 1)).to_datetime64()
    due = ~pd.isna(due_on) & (due_on <= passed)
    return Overdue(int(due.sum()), int((due & ~np.asarray(known, dtype=bool)).sum()))


def _days(values: pd.Series) -> pd.Series:
    """Calendar days in UTC, with or without a zone in the values (unreadable: missing)."""
    return pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()


def normal_share(history: list[Overdue]) -> float:
    """The overdue share of recent healthy batches, with the prior."""
    due = sum(h.due for h in history)
    overdue = sum(h.overdue for h in history)
    return (overdue + PRIOR_OVERDUE) / (due + PRIOR_DUE)


def verdict(found: Overdue, history: list[Overdue], settings: RuleSettings) -> dict:
    """The rule's verdict: trip when the overdue count is both improbable under the normal share
    (beyond ``trip_z`` one-sided) and above it by ``min_effect``."""
    normal = normal_share(history)
    chance = float(stats.binom.sf(found.overdue - 1, found.due, normal)) if found.overdue else 1.0
    level = OK
    if (
        settings.enabled
        and chance < stats.norm.sf(settings.trip_z)
        and found.share - normal >= settings.min_effect
    ):
        level = TRIP
    return {
        "rule": RULE,
        "level": level,
        "due": found.due,
        "overdue": found.overdue,
        "normal_share": round(normal, 6),
        "history_due": sum(h.due for h in history),
        "chance": chance,
        "reason": (
            f"{found.overdue} of {found.due} rows past their label due date unlabelled; "
            f"recent batches {normal:.2%} (chance {chance:.1e})"
        ),
    }
