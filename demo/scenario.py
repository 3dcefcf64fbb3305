"""The demo's script of a month in production: which day brings which incident.

Kept apart from the runner so the plan is plain data a test can read: the days of
the incidents, how long each lasts, and when each batch's labels arrive (complete after
`label_delay_days`, before that as daily increments of the labels known by the day before).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from data.generate import make_batch, make_training
from mlcycle import storage

INCIDENT_TYPES = ("source_outage", "covariate_shift", "concept_drift")


@dataclass(frozen=True)
class Incident:
    type: str
    day: int
    last_day: int  # inclusive; concept drift lasts: the world changed, it does not change back

    def covers(self, day: int) -> bool:
        return self.day <= day <= self.last_day


@dataclass(frozen=True)
class Scenario:
    days: int = 30
    seed: int = 7
    rows_per_day: int = 2000
    training_rows: int = 20000
    label_delay_days: int = 3
    start: dt.date = dt.date(2026, 1, 1)
    incidents: tuple[Incident, ...] = field(default=())

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day - 1)

    def batch_id(self, day: int) -> str:
        return f"day-{day:02d}"

    def incident_on(self, day: int) -> Incident | None:
        return next((i for i in self.incidents if i.covers(day)), None)

    def labels_due(self, day: int) -> int | None:
        """The batch whose labels arrive on `day`, if any."""
        labelled = day - self.label_delay_days
        return labelled if labelled >= 1 else None

    def increments_due(self, day: int) -> list[tuple[int, dt.date, dt.date | None]]:
        """(batch day, through, after) of the label increments that arrive on `day`: for
        each earlier batch whose complete labels are not due yet, the labels known through
        the day before and not sent yet (after None: nothing was sent for it before)."""
        yesterday = self.date(day) - dt.timedelta(days=1)
        return [
            (batch, yesterday, None if batch == day - 1 else yesterday - dt.timedelta(days=1))
            for batch in range(max(1, day - self.label_delay_days + 1), day)
        ]


def default_incidents(days: int) -> tuple[Incident, ...]:
    """Three incidents spread over a month; a short run (< 15 days) gets the outage only."""
    if days < 15:
        return (Incident("source_outage", min(3, days), min(3, days)),)
    outage, shift, drift = round(days * 0.27), round(days * 0.5), round(days * 0.7)
    return (
        Incident("source_outage", outage, outage),
        Incident("covariate_shift", shift, shift + 1),
        Incident("concept_drift", drift, days),
    )


def build(days: int = 30, seed: int = 7, rows_per_day: int = 2000) -> Scenario:
    return Scenario(
        days=days, seed=seed, rows_per_day=rows_per_day, incidents=default_incidents(days)
    )


def csv_bytes(frame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def training_files(scenario: Scenario) -> dict[str, bytes]:
    """S3 key -> body for the initial training data."""
    bookings, hotels = make_training(scenario.training_rows, scenario.seed)
    return {
        storage.source_key(storage.training_prefix("bookings"), "bookings"): csv_bytes(bookings),
        storage.source_key(storage.training_prefix("hotels"), "hotels"): csv_bytes(hotels),
    }


def day_batch(scenario: Scenario, day: int):
    incident = scenario.incident_on(day)
    return make_batch(
        scenario.date(day),
        scenario.rows_per_day,
        scenario.seed,
        incident.type if incident else None,
    )
