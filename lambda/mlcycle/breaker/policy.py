"""The breaker's bounds on what it does by itself (model_config.yml `breaker:`).

A model that keeps failing must not be retrained in a loop: the breaker asks for at most
`max_retrains_per_day` retrains in any 24 hours. A held batch must not wait unseen forever:
after `max_hold_hours` its fallback applies, `page` (it stays held and the operators are
paged) or `publish` (published with the champion, flagged in the manifest).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcycle.errors import ConfigError

PAGE, PUBLISH = "page", "publish"
HOLD_FALLBACKS = (PAGE, PUBLISH)


@dataclass(frozen=True)
class BreakerPolicy:
    max_retrains_per_day: int = 3
    max_hold_hours: float = 24.0
    hold_fallback: str = PAGE


def parse_breaker_policy(raw: dict) -> BreakerPolicy:
    try:
        policy = BreakerPolicy(
            max_retrains_per_day=int(raw.get("max_retrains_per_day", 3)),
            max_hold_hours=float(raw.get("max_hold_hours", 24)),
            hold_fallback=str(raw.get("hold_fallback", PAGE)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"breaker: {exc}") from None
    if policy.max_retrains_per_day < 0:
        raise ConfigError(
            f"breaker.max_retrains_per_day must be 0 or more, got {policy.max_retrains_per_day}"
        )
    if not policy.max_hold_hours > 0:
        raise ConfigError(f"breaker.max_hold_hours must be above 0, got {policy.max_hold_hours}")
    if policy.hold_fallback not in HOLD_FALLBACKS:
        raise ConfigError(
            f"breaker.hold_fallback must be one of {list(HOLD_FALLBACKS)}, "
            f"got {policy.hold_fallback!r}"
        )
    return policy
