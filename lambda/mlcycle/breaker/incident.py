"""Whether a recovery's labels can show the incident it answers.

After a label-triggered trip only the labels of the batch that showed the harm, or of later
batches, can tell a model that repairs it from one that does not. On older labels the
candidates are judged in the world the champion was right about, and a fit that beats it
there by the margin says nothing about the new one: demo seed 2 promoted such a fit on the
batch before a concept drift (its labels were the newest complete ones); the fit was refuted
on probation that day and stayed champion on the next drifted day, 1.35 points below the
champion before it. Such a recovery keeps the champion (`gate.champion_kept`), and a later one,
with the labels that tripped, decides.
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


def evidence_arrival(entries: list[dict], since: dt.datetime) -> dt.datetime | None:
    """When the newest batch published before ``since`` whose labels tripped a rule came in:
    the batch whose labels opened the incident (an alarm names a rule, not a batch)."""
    times = [stored_time(e.get("published_at")) for e in entries if _label_trip(e)]
    return max((t for t in times if t is not None and t < since), default=None)


def predates_incident(state: dict, entries: list[dict], newest: dt.datetime | None) -> str | None:
    """Why a promotion now would rest on labels that predate the incident, or None.

    ``newest`` is when the newest labelled batch the run trained on came in (None: not known,
    which cannot show the incident either). Only an OPEN breaker whose incident a label rule
    started is asked; without the batch that tripped in the monitor's window there is nothing
    to compare with, and the usual gate decides.
    """
    incident = state.get("incident") or {}
    since = stored_time(incident.get("since"))
    if state["state"] != OPEN or not incident.get("label_triggered") or since is None:
        return None
    shown = evidence_arrival(entries, since)
    if shown is None or (newest is not None and newest >= shown):
        return None
    return (
        f"not promoted: the newest labels trained on are of a batch that came in at "
        f"{newest.isoformat() if newest else 'an unknown time'}, before the batch whose labels "
        f"opened the incident ({shown.isoformat()}): they cannot show whether a model repairs it"
    )
