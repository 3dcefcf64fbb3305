"""The retrain back-off: the breaker asks for at most `breaker.max_retrains_per_day` retrains
in any 24 hours.

A model that fails again right after each retrain (or inputs that keep breaking) would
otherwise be retrained in a loop, each recovery model trained on less and newer data than
the last. The request times live in the breaker's state object, so the count survives
invocations and is changed by the same conditional write as the trip that asks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class RetrainDecision:
    requested: bool
    requests: list[str]  # the request times within the window, this one included if requested
    reason: str | None = None

    def as_log(self) -> dict:
        return {"requested": self.requested, **({"reason": self.reason} if self.reason else {})}


def decide(requests: list[str], limit: int, at: dt.datetime) -> RetrainDecision:
    """Whether a retrain may be requested at `at`, given earlier request times (ISO 8601)."""
    recent = sorted(t for t in requests if at - dt.datetime.fromisoformat(t) < WINDOW)
    if len(recent) < limit:
        return RetrainDecision(True, [*recent, at.isoformat()])
    if not recent:
        return RetrainDecision(
            False, recent, "not requested: breaker.max_retrains_per_day is 0 (retrains by hand)"
        )
    again = dt.datetime.fromisoformat(recent[-limit]) + WINDOW
    return RetrainDecision(
        False,
        recent,
        f"not requested: {len(recent)} retrain request(s) in the last 24 h "
        f"(breaker.max_retrains_per_day {limit}); the next one is possible from "
        f"{again.isoformat()}",
    )
