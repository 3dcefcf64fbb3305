"""The platform's one clock: timezone-aware UTC, so stored times compare as strings and as times."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now_iso() -> str:
    return now().isoformat()
