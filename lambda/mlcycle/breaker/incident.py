"""Whether a recovery's labels can show the incident it answers.

Once labels found the harm (at the incident's first trip, or by a breach on probation), only
the labels of the batch that showed it, or of later batches, can tell a model that repairs it
from one that does not. On older labels the candidates are judged in the world the champion
was right about, and a fit that beats it there by the margin says nothing about the new one:
demo seed 2 promoted such a fit on the batch before a concept drift (its labels were the
newest complete ones); the fit was refuted on probation that day and stayed champion on the
next drifted day, 1.35 points below the champion before it. Such a recovery keeps the
champion (`gate.champion_kept`), and a later one, with the labels that tripped, decides.
"""

from __future__ import annotations

import datetime as dt

from mlcycle.breaker.state import OPEN
from mlcycle.clock import stored_time
from mlcycle.monitoring.rules import BY_NAME, TRIP, label_rules


def _label_trip(entry: dict) -> bool:
    levels = entry.get("levels") or {}
    tripped = [r for r, level in levels.items() if level >= TRIP and r in BY_NAME]
    return bool(label_rules(r for r in tripped if BY_NAME[r].trips))


def labels_since(state: dict) -> dt.datetime | None:
    """When labels first found the incident of an OPEN breaker (its first trip, or a breach on
    probation); None when it is not OPEN or labels never tripped in it."""
    if state["state"] != OPEN:
        return None
    return stored_time((state.get("incident") or {}).get("labels_since"))


def evidence_batch(entries: list[dict], since: dt.datetime) -> str | None:
    """The newest batch published (or scored on probation) before ``since`` whose labels tripped
    a rule in the monitor's window: the one whose labels showed the incident (an alarm names a
    rule, not a batch)."""
    tripped = []
    for entry in entries:
        at, batch_id = stored_time(entry.get("published_at")), entry.get("batch_id")
        if at is not None and at < since and isinstance(batch_id, str) and _label_trip(entry):
            tripped.append((at, batch_id))
    return max(tripped)[1] if tripped else None


def predates(newest: dt.datetime | None, evidence: str, shown: dt.datetime) -> str | None:
    """Why a promotion on labels whose newest batch came in at ``newest`` (None: not known,
    which cannot show the incident either) would rest on labels older than the batch
    ``evidence``, which came in at ``shown``; None when they may show it."""
    if newest is not None and newest >= shown:
        return None
    return (
        f"not promoted: the newest labels trained on are of a batch that came in at "
        f"{newest.isoformat() if newest else 'an unknown time'}, before {evidence} "
        f"({shown.isoformat()}), whose labels showed the incident: they cannot show whether a "
        "model repairs it"
    )
