"""The platform's one clock: timezone-aware UTC, so stored times compare as strings and as times."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now_iso() -> str:
    return now().isoformat()


def stored_time(text: object) -> dt.datetime | None:
    """A stored ISO time with its zone, or None (unreadable, or zoneless: such a time cannot
    be ordered against the platform's own)."""
    try:
        found = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return found if found is not None and found.tzinfo is not None else None
