"""How rows of the synthetic world are drawn, as integer numpy arrays.

Kept apart from the file layouts (`data.generate`) so the same draw feeds both the
DataFrame path (small batches, training) and the streaming 10M-row writer, which is
what makes the two byte-identical for the same seed.

Incidents change exactly one part of the draw:
- source_outage: the hotels file lists only 5-10% of the batch's hotels, so join coverage
  collapses (chosen over "country mostly missing": rows lose every hotel attribute, and
  JoinCoverage measures it directly). Bookings and labels stay as on the clean day.
- covariate_shift: a last-minute campaign, most bookings 0-7 days ahead; labels come
  from the same labelling function.
- concept_drift: inputs identical to the clean day; the labelling function cancels far
  more (`signal.DRIFT_CANCEL_SHIFT`).
- schema_break: a renamed column, applied to the file layout in `data.generate`.

When each status becomes known (`Chunk.status_known_on`): a cancellation on the day it
happens, drawn uniformly between the booking date and the check-in date inclusive; a
booking still `booked` at check-in (it can no longer be cancelled); a `fulfilled` stay at
check-out. The cancellation day is drawn for every row, so the extra cancellations of
concept_drift get their day from the same draw as the clean day's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data import signal

INCIDENTS = ("source_outage", "covariate_shift", "concept_drift", "schema_break")

HOTELS_COVERAGE = 0.97
OUTAGE_COVERAGE = (0.05, 0.10)
EXTRA_HOTELS = 0.01  # hotels without a booking in the file, as in the original B files
MISSING_COUNTRY = 0.02
CAMPAIGN_SHARE, CAMPAIGN_MAX_LEAD = 0.85, 7
MAX_LEAD, MAX_STAY = 365, 30

# hotel_id = 10-digit image of a row index under a bijection of [0, P): unique within a
# file by construction, vectorised, and random-looking. P is prime with 3 not dividing
# P - 1, so x -> x**3 mod P is a bijection; it scrambles what the affine step alone
# would leave as an arithmetic progression.
_ID_PRIME, _ID_STEP, _ID_FLOOR = 8_999_999_993, 387_420_489, 1_000_000_000
_INPUTS, _HOTELS, _LABELS = range(3)  # independent streams: an incident in one keeps the others


@dataclass(frozen=True)
class Chunk:
    """Rows as integer arrays (dates in days since 1970-01-01, country -1 = unknown).

    `status_known_on` is the day each row's status became known, aligned with `ids`.
    """

    ids: np.ndarray
    date: np.ndarray
    day_distance: np.ndarray
    length_of_stay: np.ndarray
    status: np.ndarray
    hotel_ids: np.ndarray
    hotel_country: np.ndarray
    status_known_on: np.ndarray

    @property
    def check_in(self) -> np.ndarray:
        return self.date + self.day_distance

    @property
    def check_out(self) -> np.ndarray:
        return self.check_in + self.length_of_stay


def id_base(keys: list[int]) -> int:
    """Where a file's ids start in the bijection: one draw per file, shared by its chunks."""
    return int(np.random.default_rng(keys).integers(_ID_PRIME))


def _months(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


def _mulmod(x: np.ndarray, y: np.ndarray | int) -> np.ndarray:
    """x * y mod P for x, y < P < 2**33 without leaving int64 (y split in 16-bit halves)."""
    return ((x * (y >> 16) % _ID_PRIME << 16) + x * (y & 0xFFFF)) % _ID_PRIME


def hotel_ids(base: int, index: np.ndarray) -> np.ndarray:
    x = (base + index) % _ID_PRIME
    return _ID_FLOOR + _mulmod(_mulmod(x, x), x) * _ID_STEP % _ID_PRIME


def draw_chunk(
    keys: list[int],
    base: int,
    first_index: int,
    extra_index: int,
    rows: int,
    first_day: int,
    last_day: int,
    incident: str | None = None,
) -> Chunk:
    """Draw `rows` bookings made between first_day and last_day, their hotels file,
    their true status and the day it became known. Booking ids use indices
    first_index.., the file's extra hotels extra_index..; callers keep those ranges
    disjoint within a file.

    Inputs, hotels and labels use separate streams, so an incident that changes one
    (an outage changes hotels, drift changes labels) leaves the other two identical to
    the clean day's; the campaign's short lead times are drawn after every clean draw.
    """
    inputs, hotels, labels = (
        np.random.default_rng(keys + [stream]) for stream in (_INPUTS, _HOTELS, _LABELS)
    )
    date = inputs.integers(first_day, last_day + 1, rows)
    lead = np.exp(inputs.normal(np.log(30), 1.1, rows)).astype(np.int64).clip(0, MAX_LEAD)
    stay = inputs.geometric(0.35, rows).clip(1, MAX_STAY)
    country = inputs.choice(len(signal.COUNTRY_CODES), rows, p=signal.COUNTRY_SHARES)
    if incident == "covariate_shift":
        campaign = inputs.random(rows) < CAMPAIGN_SHARE
        lead = np.where(campaign, inputs.integers(0, CAMPAIGN_MAX_LEAD + 1, rows), lead)

    status = signal.draw_status(
        labels.random(rows),
        labels.random(rows),
        lead,
        stay,
        country,
        _months(date + lead),
        drift=incident == "concept_drift",
    )
    # Drawn after the status draws so that every earlier output keeps its bytes for a seed.
    cancelled_on = labels.integers(date, date + lead + 1)
    known_on = np.select(
        [status == signal.CANCELLED, status == signal.BOOKED],
        [cancelled_on, date + lead],
        date + lead + stay,
    )

    coverage = hotels.uniform(*OUTAGE_COVERAGE) if incident == "source_outage" else HOTELS_COVERAGE
    listed = hotels.random(rows) < coverage
    extras = int(round(rows * EXTRA_HOTELS))
    ids = hotel_ids(base, np.arange(first_index, first_index + rows))
    extra_ids = hotel_ids(base, np.arange(extra_index, extra_index + extras))
    extra_country = hotels.choice(len(signal.COUNTRY_CODES), extras, p=signal.COUNTRY_SHARES)
    file_ids = np.concatenate([ids[listed], extra_ids])
    file_country = np.concatenate([country[listed], extra_country])
    file_country[hotels.random(len(file_country)) < MISSING_COUNTRY] = -1
    order = hotels.permutation(len(file_ids))  # the file is not row-aligned with bookings
    return Chunk(ids, date, lead, stay, status, file_ids[order], file_country[order], known_on)
