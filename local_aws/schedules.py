"""EventBridge schedule expressions on a virtual clock: `rate(...)` and `cron(...)`.

`rate(N unit)` fires every N units counted from an anchor (the moment the executor first
saw the rule, as AWS counts from the rule's creation). `cron(min hour dom month dow year)`
follows AWS's six-field syntax: day-of-week 1-7 = SUN-SAT, `?` in one of the two day
fields, names (JAN, MON), ranges, lists and steps. The `L`, `W` and `#` forms are rejected
with a clear error rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)
}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}
_SEARCH_DAYS = 366 * 5  # a cron that matches nothing within five years never fires


class ScheduleError(ValueError):
    """A schedule expression this module cannot evaluate."""


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, after: datetime, anchor: datetime) -> datetime:
        """First firing strictly after `after`: anchor + k * period, k >= 1."""
        period = timedelta(seconds=self.seconds)
        if after < anchor:
            return anchor + period
        k = int((after - anchor) / period) + 1
        return anchor + k * period


def _field(
    text: str, low: int, high: int, names: dict[str, int] | None = None
) -> frozenset[int] | None:
    """The values a cron field allows; None for `*` / `?` (anything)."""
    text = text.strip().upper()
    if text in ("*", "?"):
        return None

    def value(token: str) -> int:
        number = (
            names.get(token)
            if names and token in names
            else (int(token) if token.isdigit() else None)
        )
        if number is None and any(c in token for c in "LW#"):
            raise ScheduleError(
                f"cron field {text!r}: L, W and # are not supported by the local executor"
            )
        if number is None or not low <= number <= high:
            raise ScheduleError(f"cron field value {token!r} is not in {low}-{high}")
        return number

    allowed: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            start, end = (value(x) for x in base.split("-", 1))
        else:
            start = value(base)
            end = high if step else start
        stride = int(step) if step else 1
        if stride < 1:
            raise ScheduleError(f"cron step in {part!r} must be >= 1")
        allowed.update(range(start, end + 1, stride))
    return frozenset(allowed)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days_of_month: frozenset[int] | None
    months: frozenset[int] | None
    days_of_week: frozenset[int] | None
    years: frozenset[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        parts = body.split()
        if len(parts) != 6:
            raise ScheduleError(
                f"cron({body}): AWS cron has six fields "
                "(minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, dom, month, dow, year = parts
        if dom.strip() != "?" and dow.strip() != "?":
            raise ScheduleError(f"cron({body}): one of day-of-month and day-of-week must be '?'")
        return cls(
            _field(minute, 0, 59),
            _field(hour, 0, 23),
            _field(dom, 1, 31),
            _field(month, 1, 12, _MONTHS),
            _field(dow, 1, 7, _DAYS),
            _field(year, 1970, 2199),
        )

    def _day_matches(self, day: date) -> bool:
        aws_weekday = (day.weekday() + 1) % 7 + 1  # Python Mon=0 -> AWS SUN=1..SAT=7
        return (
            (self.years is None or day.year in self.years)
            and (self.months is None or day.month in self.months)
            and (self.days_of_month is None or day.day in self.days_of_month)
            and (self.days_of_week is None or aws_weekday in self.days_of_week)
        )

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """First matching minute strictly after `after` (same tzinfo), or None."""
        hours = sorted(self.hours) if self.hours is not None else range(24)
        minutes = sorted(self.minutes) if self.minutes is not None else range(60)
        day = after.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=after.tzinfo
                        )
                        if candidate > after:
                            return candidate
            day += timedelta(days=1)
        return None


def parse_schedule(expression: str) -> Rate | Cron:
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount < 1:
            raise ScheduleError(f"{expression}: the rate must be at least 1")
        return Rate(amount * _UNITS[unit])
    cron = _CRON.match(expression)
    if cron:
        return Cron.parse(cron.group(1))
    raise ScheduleError(f"{expression!r} is neither rate(...) nor cron(...)")
