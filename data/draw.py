"""How rows of the synthetic world are drawn, as integer numpy arrays.

Kept apart from the file layouts (`data.generate`) so the same draw feeds both the
DataFrame path (small batches, training) and the streaming 10M-row writer, which is
what makes the two byte-identical for the same seed.

Incidents change exactly one part of the draw; a magnitude (`check_magnitude`) sets how
much, and without one each keeps the size it had before magnitudes existed:
- source_outage: the hotels file lists only a share of the batch's hotels (drawn from 5-10%
  without a magnitude), so join coverage collapses. Bookings and labels stay as on the
  clean day.
- market_outage: every hotel of one country (the magnitude) is missing from the hotels file.
- covariate_shift, or benign_shift: a last-minute campaign, a share of the bookings (85%)
  0-7 days ahead; labels come from the same labelling function, so a model handles it.
- harmful_shift: a corrupted feature. The file's lead time is the true one times a factor,
  with check_in and check_out moved to match (a lead time alone would break the data
  contract); statuses follow the true lead time, so predictions get worse.
- concept_drift: inputs identical to the clean day; the labelling function cancels far
  more (its log-odds shifted by the magnitude, `signal.DRIFT_CANCEL_SHIFT` without one).
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

INCIDENTS = (
    "source_outage",
    "market_outage",
    "covariate_shift",
    "benign_shift",
    "harmful_shift",
    "concept_drift",
    "schema_break",
)
CAMPAIGNS = ("covariate_shift", "benign_shift")

HOTELS_COVERAGE = 0.97
OUTAGE_COVERAGE = (0.05, 0.10)
EXTRA_HOTELS = 0.01  # hotels without a booking in the file, as in the original B files
MISSING_COUNTRY = 0.02
CAMPAIGN_SHARE, CAMPAIGN_MAX_LEAD = 0.85, 7
MARKET_OUTAGE_COUNTRY = "DE"
LEAD_FACTOR = 0.6  # harmful_shift: costs a trained model about 6 points of accuracy
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


Magnitude = float | str | None


def check_magnitude(incident: str | None, magnitude: Magnitude) -> Magnitude:
    """The magnitude as the draw uses it (an int becomes a float); ValueError naming the
    incident and what its magnitude means when it is out of range or of the wrong kind."""
    if incident not in INCIDENTS and incident is not None:
        raise ValueError(f"unknown incident {incident!r}; expected one of {INCIDENTS}")
    if magnitude is None:
        return None
    if incident in (None, "schema_break"):
        raise ValueError(f"{incident or 'a clean batch'} takes no magnitude, got {magnitude!r}")
    if incident == "market_outage":
        if magnitude not in signal.COUNTRY_CODES:
            raise ValueError(
                f"market_outage magnitude is the missing country, one of "
                f"{', '.join(signal.COUNTRY_CODES)}; got {magnitude!r}"
            )
        return str(magnitude)
    if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)):
        raise ValueError(f"{incident} magnitude must be a number, got {magnitude!r}")
    value = float(magnitude)
    if incident == "source_outage" and not 0 <= value < HOTELS_COVERAGE:
        raise ValueError(
            f"source_outage magnitude is the share of hotels listed, 0 to {HOTELS_COVERAGE} "
            f"(a clean day), got {value}"
        )
    if incident in CAMPAIGNS and not 0 <= value <= 1:
        raise ValueError(f"{incident} magnitude is the share of last-minute bookings, got {value}")
    if incident == "harmful_shift" and (value <= 0 or value == 1):
        raise ValueError(
            f"harmful_shift magnitude is the lead-time factor (> 0, not 1), got {value}"
        )
    return value


def draw_chunk(
    keys: list[int],
    base: int,
    first_index: int,
    extra_index: int,
    rows: int,
    first_day: int,
    last_day: int,
    incident: str | None = None,
    magnitude: Magnitude = None,
) -> Chunk:
    """Draw `rows` bookings made between first_day and last_day, their hotels file,
    their true status and the day it became known. Booking ids use indices
    first_index.., the file's extra hotels extra_index..; callers keep those ranges
    disjoint within a file.

    Inputs, hotels and labels use separate streams, so an incident that changes one
    (an outage changes hotels, drift changes labels) leaves the other two identical to
    the clean day's; the campaign's short lead times are drawn after every clean draw.
    `magnitude` is check_magnitude's; defaults are read at call time, so a benchmark may
    set a module constant for one draw.
    """
    inputs, hotels, labels = (
        np.random.default_rng(keys + [stream]) for stream in (_INPUTS, _HOTELS, _LABELS)
    )
    date = inputs.integers(first_day, last_day + 1, rows)
    lead = np.exp(inputs.normal(np.log(30), 1.1, rows)).astype(np.int64).clip(0, MAX_LEAD)
    stay = inputs.geometric(0.35, rows).clip(1, MAX_STAY)
    country = inputs.choice(len(signal.COUNTRY_CODES), rows, p=signal.COUNTRY_SHARES)
    if incident in CAMPAIGNS:
        share = CAMPAIGN_SHARE if magnitude is None else magnitude
        campaign = inputs.random(rows) < share
        lead = np.where(campaign, inputs.integers(0, CAMPAIGN_MAX_LEAD + 1, rows), lead)
    cancel_shift = 0.0
    if incident == "concept_drift":
        cancel_shift = signal.DRIFT_CANCEL_SHIFT if magnitude is None else float(magnitude)

    status = signal.draw_status(
        labels.random(rows),
        labels.random(rows),
        lead,
        stay,
        country,
        _months(date + lead),
        cancel_shift,
    )
    # Drawn after the status draws so that every earlier output keeps its bytes for a seed.
    cancelled_on = labels.integers(date, date + lead + 1)
    known_on = np.select(
        [status == signal.CANCELLED, status == signal.BOOKED],
        [cancelled_on, date + lead],
        date + lead + stay,
    )

    coverage = HOTELS_COVERAGE
    if incident == "source_outage":
        # A given share draws nothing more: its listed hotels are a subset of the clean day's.
        coverage = hotels.uniform(*OUTAGE_COVERAGE) if magnitude is None else float(magnitude)
    listed = hotels.random(rows) < coverage
    extras = int(round(rows * EXTRA_HOTELS))
    ids = hotel_ids(base, np.arange(first_index, first_index + rows))
    extra_ids = hotel_ids(base, np.arange(extra_index, extra_index + extras))
    extra_country = hotels.choice(len(signal.COUNTRY_CODES), extras, p=signal.COUNTRY_SHARES)
    file_ids = np.concatenate([ids[listed], extra_ids])
    file_country = np.concatenate([country[listed], extra_country])
    file_country[hotels.random(len(file_country)) < MISSING_COUNTRY] = -1
    order = hotels.permutation(len(file_ids))  # the file is not row-aligned with bookings
    file_ids, file_country = file_ids[order], file_country[order]
    if incident == "market_outage":
        country = MARKET_OUTAGE_COUNTRY if magnitude is None else magnitude
        kept = file_country != np.flatnonzero(signal.COUNTRY_CODES == country)[0]
        file_ids, file_country = file_ids[kept], file_country[kept]
    shown_lead = lead
    if incident == "harmful_shift":
        # After the status draws: statuses follow the true lead time, the file shows another.
        factor = LEAD_FACTOR if magnitude is None else float(magnitude)
        shown_lead = np.rint(lead * factor).astype(np.int64)
    return Chunk(ids, date, shown_lead, stay, status, file_ids, file_country, known_on)
