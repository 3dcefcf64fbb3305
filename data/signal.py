"""The labelling function: how a booking's true `status` depends on its inputs.

Kept apart from the generator so the "truth" of the synthetic world is one small,
readable thing. A model can only learn what is written here, and the incidents that
change the truth (concept drift) change it here and nowhere else.

The story behind the numbers: the status is observed at a snapshot taken about a
month after the booking was made (the demo compresses that delay to a few days).
- A booking is *cancelled* with a probability that grows with lead time (plans change),
  with stay length, in some markets, and for summer and December check-ins.
- A booking that is not cancelled is *fulfilled* if the stay was over by the snapshot,
  otherwise still *booked*; the snapshot date is fuzzy, so the boundary is soft.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("booked", "cancelled", "fulfilled")
BOOKED, CANCELLED, FULFILLED = range(3)

# Market, share of bookings, effect on the cancellation log-odds. Real ISO codes so
# dashboards look familiar; the effects are invented but plausible in direction.
COUNTRIES = (
    ("US", 0.16, 0.0),
    ("GB", 0.10, -0.2),
    ("DE", 0.10, -0.6),
    ("FR", 0.08, 0.0),
    ("ES", 0.07, 0.3),
    ("IT", 0.07, 0.3),
    ("NL", 0.05, -0.5),
    ("BR", 0.05, 0.9),
    ("IN", 0.05, 1.0),
    ("CN", 0.04, 0.4),
    ("JP", 0.04, -0.8),
    ("AU", 0.04, -0.1),
    ("CA", 0.03, -0.1),
    ("MX", 0.03, 0.8),
    ("TR", 0.03, 0.7),
    ("AE", 0.02, 0.5),
    ("PL", 0.01, 0.0),
    ("SE", 0.01, -0.6),
    ("PT", 0.01, 0.2),
    ("KR", 0.01, -0.4),
)
COUNTRY_CODES = np.array([c for c, _, _ in COUNTRIES])
COUNTRY_SHARES = np.array([s for _, s, _ in COUNTRIES]) / sum(s for _, s, _ in COUNTRIES)
_COUNTRY_EFFECT = np.array([e for _, _, e in COUNTRIES] + [0.0])  # last: unknown country

# Check-in month (1..12) effect on the cancellation log-odds: summer and December.
_MONTH_EFFECT = np.array([0.0, -0.2, -0.2, 0.0, 0.1, 0.2, 0.6, 0.7, 0.5, 0.0, -0.1, -0.2, 0.4])

SNAPSHOT_DAYS = 30  # stays that end before this many days after booking are fulfilled
SNAPSHOT_FUZZ = 6.0  # days: how soft the booked / fulfilled boundary is
# Concept drift: a policy change that makes cancellation free shifts every booking's
# cancellation log-odds by this much (overall cancellation goes from ~30% to ~70%).
DRIFT_CANCEL_SHIFT = 2.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def cancel_probability(
    day_distance: np.ndarray,
    length_of_stay: np.ndarray,
    country: np.ndarray,
    check_in_month: np.ndarray,
    cancel_shift: float = 0.0,
) -> np.ndarray:
    """P(cancelled). `country` indexes COUNTRY_CODES; -1 means unknown. `cancel_shift` is
    added to the log-odds: concept drift (DRIFT_CANCEL_SHIFT by default)."""
    logit = (
        -2.9
        + 0.55 * np.log1p(day_distance)
        + 0.08 * (length_of_stay - 3)
        + _COUNTRY_EFFECT[country]
        + _MONTH_EFFECT[check_in_month]
        + cancel_shift
    )
    return _sigmoid(logit)


def booked_probability(day_distance: np.ndarray, length_of_stay: np.ndarray) -> np.ndarray:
    """P(still booked at the snapshot | not cancelled): the stay has not ended yet."""
    return _sigmoid((day_distance + length_of_stay - SNAPSHOT_DAYS) / SNAPSHOT_FUZZ)


def draw_status(
    u_cancel: np.ndarray,
    u_booked: np.ndarray,
    day_distance: np.ndarray,
    length_of_stay: np.ndarray,
    country: np.ndarray,
    check_in_month: np.ndarray,
    cancel_shift: float = 0.0,
) -> np.ndarray:
    """Status codes (indices into CLASSES) from two uniform draws per row.

    The uniforms are passed in, not drawn here, so a drifted day reuses the clean day's
    draws: every booking cancelled on the clean day is cancelled under drift too, and the
    only difference between the two is the labelling function.
    """
    cancelled = u_cancel < cancel_probability(
        day_distance, length_of_stay, country, check_in_month, cancel_shift
    )
    booked = u_booked < booked_probability(day_distance, length_of_stay)
    return np.where(cancelled, CANCELLED, np.where(booked, BOOKED, FULFILLED)).astype(np.int8)
