"""The demo's script of a month in production: which day brings which incident.

Kept apart from the runner so the plan is plain data a test can read: the days of
the incidents, how long each lasts and how large it is, and when each batch's labels arrive
(complete after `label_delay_days`, before that as daily increments of the labels known by
the day before). A scenario comes from a YAML file (`demo.scenario_file`); the world each
day is drawn by `data.generate` from the seed, the day and the incident in force.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from dataclasses import dataclass, field

from data.draw import Magnitude
from data.generate import Batch, make_batch, make_training
from mlcycle import storage

# Integrity incidents break the inputs, whatever the model: publishing them is harm by itself.
INTEGRITY = ("source_outage", "market_outage", "schema_break")


@dataclass(frozen=True)
class Incident:
    type: str
    day: int
    last_day: int  # inclusive
    magnitude: Magnitude = None
    lasting: bool = False  # runs to the end of the run, however long (concept drift's default)
    # Integrity incidents: days after the last one when the source re-sends complete files
    # for every batch the incident broke (None: never).
    corrected_after: int | None = None

    def covers(self, day: int) -> bool:
        return self.day <= day <= self.last_day

    @property
    def integrity(self) -> bool:
        return self.type in INTEGRITY

    def label(self) -> str:
        days = f"day {self.day}" + (f"-{self.last_day}" if self.last_day > self.day else "")
        size = "" if self.magnitude is None else f" ({self.magnitude})"
        return f"{self.type}{size} {days}"


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

    def overridden(self, days: int | None = None, seed: int | None = None) -> Scenario:
        """The same plan run for `days` (incidents after the end dropped, one running past it
        cut short, a lasting one to the new end) or with another seed."""
        if days is None and seed is None:
            return self
        days = self.days if days is None else days
        kept = tuple(
            dataclasses.replace(i, last_day=days if i.lasting else min(i.last_day, days))
            for i in self.incidents
            if i.day <= days
        )
        return dataclasses.replace(
            self, days=days, seed=self.seed if seed is None else seed, incidents=kept
        )

    def corrections_due(self, day: int) -> list[int]:
        """The batch days whose corrected (complete) files arrive on `day`."""
        return [
            batch
            for i in self.incidents
            if i.corrected_after is not None and i.last_day + i.corrected_after == day
            for batch in range(i.day, i.last_day + 1)
        ]

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

    def day_batch(self, day: int) -> Batch:
        """The batch delivered on `day`, incident included."""
        incident = self.incident_on(day)
        if incident is None:
            return self.clean_batch(day)
        return make_batch(
            self.date(day), self.rows_per_day, self.seed, incident.type, incident.magnitude
        )

    def clean_batch(self, day: int) -> Batch:
        """The same day without its incident: the counterpart that says what an incident cost,
        and the complete files a corrected integrity incident re-sends."""
        return make_batch(self.date(day), self.rows_per_day, self.seed)

    def concept_batch(self, day: int) -> Batch:
        """The same day with only the behaviour in force (concept drift), inputs intact: what
        a champion's clean-day accuracy is measured on."""
        incident = self.incident_on(day)
        if incident is not None and incident.type == "concept_drift":
            return self.day_batch(day)
        return self.clean_batch(day)


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
