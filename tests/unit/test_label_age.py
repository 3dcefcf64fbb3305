"""How old a batch's partial labels are: counted from its arrival, which for a batch held while
the breaker was open is when it was held, not when a recovered model scored it."""

import datetime as dt

import pandas as pd

from mlcycle.labels import BatchLabels
from mlcycle.verdicts import age_days, arrived_at
from tests.unit.breaker_world import BUCKETS


def _labels(as_of: str | None, complete: bool = False) -> BatchLabels:
    return BatchLabels(pd.Series(dtype=object), complete, None if complete else as_of, 1, [])


def test_age_counts_days_from_arrival_to_the_newest_increment():
    assert age_days(_labels("2026-01-08"), "2026-01-05T23:00:00+00:00") == 3
    assert age_days(_labels("2026-01-08", complete=True), "2026-01-05T23:00:00+00:00") is None


def test_a_batch_scored_from_held_arrived_when_it_was_held(world):
    store, _, _ = world
    store.put_json(
        BUCKETS.data,
        "held/day-26/held.json",
        {"batch_id": "day-26", "held_at": "2026-01-26T09:00:00+00:00"},
    )
    held = {
        "batch_id": "day-26",
        "input_prefix": "held/day-26/",
        "published_at": "2026-01-28T10:00:00+00:00",
    }
    fresh = {
        "batch_id": "day-27",
        "input_prefix": "incoming/day-27/",
        "published_at": "2026-01-27T09:00:00+00:00",
    }
    assert arrived_at(store, BUCKETS, held) == "2026-01-26T09:00:00+00:00"
    assert arrived_at(store, BUCKETS, fresh) == "2026-01-27T09:00:00+00:00"
    # Labels up to the 29th are three days old for the held batch, not one.
    assert age_days(_labels("2026-01-29"), arrived_at(store, BUCKETS, held)) == 3


def test_the_demo_dates_a_held_batch_increments_from_when_it_was_held(world):
    """Increments are named on the platform's calendar by arrival plus simulated age, whether
    the batch was published or waits in held/ (a simulated date would make its age nonsense)."""
    from demo import scenario_file
    from demo.runner import Run

    store, _, _ = world
    run = object.__new__(Run)  # only the store, the buckets and the scenario are read
    run.store, run.buckets, run.sc = store, BUCKETS, scenario_file.load()
    through = run.sc.date(26) + dt.timedelta(days=2)
    assert run._dated(26, through) == through  # not arrived yet: nothing to count from
    store.put_json(
        BUCKETS.data,
        "held/day-26/held.json",
        {"batch_id": "day-26", "held_at": "2026-12-01T09:00:00+00:00"},
    )
    assert str(run._dated(26, through)) == "2026-12-03"
