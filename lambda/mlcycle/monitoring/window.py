"""The window: recent monitored batches, the production side of every limit.

One JSON object per model in the monitoring bucket, written by the monitor only (a
conditional write, so two monitors never lose each other's entry). It keeps the newest
``window_batches`` entries, healthy or not; readers pick what they may learn from:

- a statistic's normal range learns from batches where nothing tripped and its own rule
  was quiet (so an incident never widens the limits that should catch it), and, for the
  statistics that depend on the model, only from batches the same version scored;
- the drift baseline pools the counts of batches without drift;
- after an operator accepts a shift as the new normal (``accepted_since``), batches from
  then on count as healthy whatever drift they showed, and older ones are forgotten.

Format::

    {"format": "mlcycle.window/1", "accepted_since": iso | null, "accepted_by": str | null,
     "entries": [{"batch_id", "model_version", "published_at", "rows",
                  "values": {statistic: value}, "sizes": {statistic: rows},
                  "z": {statistic: z}, "levels": {rule: 0 | 1 | 2},
                  "counts": {column: [..]}, "inputs_counts": {..}, "classes": {..},
                  "calibration": {"rows": [..], "correct": [..]} | null,
                  "early": {"age<k>": {"known": [..], "expected": [..], "edges": [..]}},
                  "due": {"age<k>": [rows due, rows overdue]}}]}
"""

from __future__ import annotations

import numpy as np

from .batchstats import BatchStats
from .labelstats import LabelStats
from .overdue import Overdue
from .rules import BY_NAME, OK, TRIP, WARN

WINDOW_FORMAT = "mlcycle.window/1"
# Statistics of the model rather than of the data: learnt from the same version only.
MODEL_RULES = {
    "EstimatedAccuracy",
    "RealisedAccuracy",
    "PositiveRateGap",
    "EstimateError",
    "PositiveRate",
    "EarlyPositiveRate",
    "PredictionDrift",
}


def empty() -> dict:
    return {"format": WINDOW_FORMAT, "accepted_since": None, "accepted_by": None, "entries": []}


def valid(doc: object) -> bool:
    """Whether ``doc`` is a window this code can read (format and entry list)."""
    return (
        isinstance(doc, dict)
        and doc.get("format") == WINDOW_FORMAT
        and isinstance(doc.get("entries"), list)
        and all(isinstance(e, dict) for e in doc["entries"])
    )


def _accepted(entry: dict, window: dict) -> bool:
    since = window.get("accepted_since")
    return bool(since) and entry["published_at"] >= since


def _tripped(entry: dict) -> bool:
    return any(
        level >= TRIP and BY_NAME[rule].trips
        for rule, level in entry["levels"].items()
        if rule in BY_NAME
    )


def _drifted(entry: dict, window: dict) -> bool:
    """Inputs unlike the normal population (and not accepted as the new normal)."""
    return entry["levels"].get("FeatureDrift", OK) >= WARN and not _accepted(entry, window)


def current(window: dict) -> list[dict]:
    """Entries after the last accepted shift (all of them if none was accepted)."""
    since = window.get("accepted_since")
    return [e for e in window["entries"] if not since or e["published_at"] >= since]


def history(
    window: dict, key: str, version: str, exclude: str, min_batches: int
) -> list[tuple[float, float]]:
    """(value, rows) of a statistic in the healthy batches it may learn from.

    Batches where something tripped never count. Batches where this statistic's rule warned
    count only when too few quiet ones remain: otherwise a lasting change at warning level
    would shrink the window until only the reference was left to judge by. A statistic of the
    model never learns from batches whose inputs drifted: a campaign the model handles well
    lifts its accuracy, and a range widened by those days let a corrupted feature costing 7
    points through even on complete labels (demo seed 3: day-20 at 0.58 against days 15-19 at
    0.84, 0.84, 0.66, 0.64, 0.67: z -1.3); with too few other batches the reference judges.
    """
    rule = key.split("/", 1)[0]
    quiet: list[tuple[float, float]] = []
    warned: list[tuple[float, float]] = []
    for entry in current(window):
        if entry["batch_id"] == exclude or key not in entry["values"]:
            continue
        if rule in MODEL_RULES and (entry["model_version"] != version or _drifted(entry, window)):
            continue
        if _tripped(entry) and not _accepted(entry, window):
            continue
        point = (entry["values"][key], entry["sizes"][key])
        calm = entry["levels"].get(rule, OK) == OK or _accepted(entry, window)
        (quiet if calm else warned).append(point)
    return quiet if len(quiet) >= min_batches else quiet + warned


def sequence(window: dict, key: str, version: str, exclude: str) -> list[float]:
    """The statistic's standardised values, oldest first, for the sequential rule."""
    return [
        e["z"][key]
        for e in sorted(current(window), key=lambda e: e["published_at"])
        if e["batch_id"] != exclude and e["model_version"] == version and key in e["z"]
    ]


def pooled(window: dict, field: str, version: str, exclude: str, min_batches: int) -> dict | None:
    """Summed bin counts of the batches without drift, or None with fewer than min_batches."""
    rule = "PredictionDrift" if field == "classes" else "FeatureDrift"
    entries = [
        e
        for e in current(window)
        if e["batch_id"] != exclude
        and (e["levels"].get(rule, OK) == OK and not _tripped(e) or _accepted(e, window))
        # Bins are the version's own (its reference's edges): another version's counts are
        # counts of other bins, and may not even have as many.
        and e["model_version"] == version
    ]
    if len(entries) < min_batches:
        return None
    total: dict = {}
    for entry in entries:
        for name, counts in entry.get(field, {}).items():
            values = np.asarray(counts if field != "classes" else [counts], dtype="float64")
            total[name] = total[name] + values if name in total else values
    return total


def calibration_entries(window: dict, version: str, newest: int) -> list[dict]:
    """Calibration counts of the newest labelled batches the version scored without a trip
    and on undrifted inputs. A corrupted feature the rules only warned about keeps the model's
    confidence and loses its accuracy: taught to the table, it lowered the estimate of the clean
    batches after it until they tripped (demo seed 6: days 22-23 at 0.61 against 0.65, z -7.3)."""
    labelled = [
        e
        for e in sorted(current(window), key=lambda e: e["published_at"])
        if e["model_version"] == version
        and e.get("calibration")
        and not _tripped(e)
        and not _drifted(e, window)
    ]
    return [e["calibration"] for e in labelled[-newest:]] if newest else []


def early_history(
    window: dict, age: int, version: str, exclude: str, edges: list | None, min_batches: int
) -> tuple[list[dict], bool]:
    """Partial-label counts at this age of the healthy batches the version scored; while it
    has fewer than ``min_batches`` of them, those of earlier versions on the same timing bins
    too (the flag says so). How soon labels arrive is the world's, and known / expected of a
    calibrated model is that share whichever version expected: a recovery model on probation
    is judged at once (the rule's spread measures the mix)."""
    own, others = [], []
    for entry in current(window):
        early = entry.get("early", {}).get(f"age{age}")
        if early is None or entry["batch_id"] == exclude:
            continue
        calm = entry["levels"].get("EarlyPositiveRate", OK) == OK and not _tripped(entry)
        if not (calm or _accepted(entry, window)):
            continue
        if entry["model_version"] == version:
            own.append(early)
        elif edges is not None and early.get("edges") == list(edges):
            others.append(early)
    if len(own) >= min_batches:
        return own, False
    return own + others, bool(others)


def overdue_history(window: dict, age: int | None) -> list[Overdue]:
    """Due and overdue rows at this label age of the batches where nothing tripped, whichever
    version scored them: how late labels come is the label feed's, not the model's."""
    if age is None:
        return []
    found = (e.get("due", {}).get(f"age{age}") for e in window["entries"] if not _tripped(e))
    return [Overdue(*counts) for counts in found if counts is not None]


def entry(
    batch_id: str,
    version: str,
    published_at: str,
    stats: BatchStats,
    result: dict,
    labels: LabelStats | None,
    timing_edges: list | None = None,
) -> dict:
    """A batch's window entry from its statistics, its verdicts and its labels so far
    (``timing_edges``: the bins its partial-label counts are on)."""
    early = {}
    if labels is not None and not labels.complete and labels.timing_known is not None:
        early[f"age{labels.age_days}"] = {
            "known": labels.timing_known,
            "expected": labels.timing_expected,
            "edges": timing_edges,
        }
    return {
        "batch_id": batch_id,
        "model_version": version,
        "published_at": published_at,
        "rows": stats.rows,
        "values": result["values"],
        "sizes": result["sizes"],
        "z": result["z"],
        "levels": {rule: v["level"] for rule, v in result["verdicts"].items()},
        "counts": {k: v.tolist() for k, v in stats.counts.items()},
        "inputs_counts": {k: v.tolist() for k, v in stats.inputs_counts.items()},
        "classes": dict(stats.classes),
        "calibration": labels.bins if labels is not None else None,
        "early": early,
        "due": {}
        if labels is None or labels.due is None
        else {f"age{labels.age_days}": list(labels.due)},
    }


def upsert(window: dict, entry: dict, keep: int) -> dict:
    """The window with this batch's entry added or replaced (values merged: partial labels of
    earlier ages stay), trimmed to the newest ``keep`` batches."""
    entries = [e for e in window["entries"] if e["batch_id"] != entry["batch_id"]]
    old = next((e for e in window["entries"] if e["batch_id"] == entry["batch_id"]), None)
    if old is not None:
        entry = {
            **entry,
            "values": {**old["values"], **entry["values"]},
            "sizes": {**old["sizes"], **entry["sizes"]},
            "z": {**old["z"], **entry["z"]},
            "calibration": entry.get("calibration") or old.get("calibration"),
            "early": {**old.get("early", {}), **entry.get("early", {})},
            "due": {**old.get("due", {}), **entry.get("due", {})},
        }
    entries.append(entry)
    entries.sort(key=lambda e: e["published_at"])
    return {**window, "entries": entries[-keep:]}


def accept(window: dict, since: str, actor: str) -> dict:
    """An operator's decision: what production shows from ``since`` on is the new normal."""
    return {**window, "accepted_since": since, "accepted_by": actor}
