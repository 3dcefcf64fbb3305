"""LabelsOverdue: which rows a label increment should cover, and when their absence is a trip."""

import numpy as np
import pandas as pd
import pytest

from data.generate import label_increment, make_batch
from mlcycle.monitoring import window as windows
from mlcycle.monitoring.overdue import Overdue, normal_share, overdue_rows, verdict
from mlcycle.monitoring.rules import OK, TRIP, RuleSettings, parse_settings

SETTINGS = parse_settings({}).rule("LabelsOverdue")


def test_a_row_is_due_once_the_increment_passed_its_date():
    booked = pd.Series(["2026-01-03", "2026-01-04", "2026-01-04", "2026-01-04"])
    check_out = pd.Series(["2026-01-05", "2026-01-06", "2026-01-05", None])
    known = np.array([True, False, False, False])
    # Newest booking 01-04: the batch came 01-05; at label age 0 the increment passed 01-05.
    assert overdue_rows(check_out, booked, known, 0) == Overdue(due=2, overdue=1)
    assert overdue_rows(check_out, booked, known, 1) == Overdue(due=3, overdue=2)
    # A missing due date is never due; no booking date at all: nothing can be said.
    assert overdue_rows(check_out, pd.Series([None] * 4), known, 5) == Overdue(0, 0)
    # Times and zones: the UTC calendar day counts.
    zoned = pd.Series(["2026-01-05T23:30:00+00:00", "2026-01-06T01:00:00+02:00", None, "x"])
    assert overdue_rows(zoned, booked, known, 0) == Overdue(due=2, overdue=1)


def test_the_normal_share_starts_from_the_due_dates_word_and_learns():
    assert normal_share([]) == pytest.approx(0.01)
    assert normal_share([Overdue(60, 0)]) == pytest.approx(0.5 / 110)
    assert normal_share([Overdue(100, 30), Overdue(100, 30)]) == pytest.approx(60.5 / 250)


@pytest.mark.parametrize(
    ("found", "history", "level"),
    [
        (Overdue(17, 11), [Overdue(6, 0)] * 10, TRIP),  # a corrupted lead time (demo, x0.6)
        (Overdue(6, 1), [Overdue(6, 0)] * 10, OK),  # one late row
        (Overdue(210, 0), [Overdue(6, 0)] * 10, OK),  # a campaign: many due, all on time
        (Overdue(0, 0), [], OK),  # nothing due yet
        (Overdue(20, 8), [Overdue(20, 6)] * 10, OK),  # a feed that is always this late
    ],
)
def test_the_verdict(found, history, level):
    judged = verdict(found, history, SETTINGS)
    assert judged["level"] == level, judged
    assert judged["due"] == found.due and judged["overdue"] == found.overdue


def test_a_significant_but_small_excess_is_not_a_trip_and_the_rule_can_be_disabled():
    history = [Overdue(10_000, 0)]
    small = Overdue(10_000, 40)  # 0.4%: improbable under 0.005%, below the 5-point effect
    assert verdict(small, history, SETTINGS)["level"] == OK
    loud = Overdue(17, 11)
    assert verdict(loud, history, RuleSettings(enabled=False, min_effect=0.05))["level"] == OK


def test_the_window_keeps_due_counts_per_age_and_learns_from_untripped_batches():
    entries = [
        {"batch_id": "a", "levels": {}, "due": {"age0": [6, 0], "age1": [20, 1]}},
        {"batch_id": "b", "levels": {"RealisedAccuracy": TRIP}, "due": {"age0": [6, 6]}},
        {"batch_id": "c", "levels": {}},
    ]
    window = {**windows.empty(), "entries": entries}
    assert windows.overdue_history(window, 0) == [Overdue(6, 0)]
    assert windows.overdue_history(window, 1) == [Overdue(20, 1)]
    assert windows.overdue_history(window, None) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_generators_incidents_at_label_age_zero(seed):
    """The signal in the data (seeds the demo does not use by default): a lead time shrunk to
    0.6 leaves rows overdue; a campaign, concept drift and a clean day leave none."""

    def counts(incident, magnitude=None):
        batch = make_batch("2026-01-20", 2000, seed, incident, magnitude)
        known = batch.bookings.hotel_id.isin(label_increment(batch, "2026-01-20").hotel_id)
        rows = batch.bookings
        return overdue_rows(rows.check_out, rows.date, known.to_numpy(), 0)

    history = [counts(None)] * 10
    assert all(h.overdue == 0 for h in history)
    for incident, magnitude in (("benign_shift", 0.85), ("concept_drift", 2.0)):
        found = counts(incident, magnitude)
        assert found.overdue == 0 and verdict(found, history, SETTINGS)["level"] == OK
    harmful = counts("harmful_shift", 0.6)
    assert harmful.overdue >= 8 and verdict(harmful, history, SETTINGS)["level"] == TRIP
