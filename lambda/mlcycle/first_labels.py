"""A batch whose inputs drifted waits in held/ for its first labels.

Without labels a corrupted feature and a real shift of the same column look alike (a lead
time shrunk upstream, a last-minute campaign): the gate warns on both. When the config names
the date by which a row's label is known (`monitoring.label_due_column`), such a batch is not
published on the warning alone. The gate holds it, and the first label increment decides:
rows past their due date still unlabelled beyond the normal share (``LabelsOverdue``) hold it
for corrected inputs like any integrity trip; otherwise it is confirmed, and the next
inference rescan publishes it through the gate while the breaker is CLOSED. A batch is late
by a day at most when labels come daily; when they do not come, it pages at the hold limit (the
publish fallback scores it on probation, where it waits again).
"""

from __future__ import annotations

import pandas as pd

from mlcycle import storage
from mlcycle.batches import HeldBatch, change_held_note, held_batch
from mlcycle.clock import now_iso
from mlcycle.config import ModelConfig
from mlcycle.errors import MLCycleError
from mlcycle.labels import BatchLabels
from mlcycle.logs import get_logger, log
from mlcycle.monitoring import overdue
from mlcycle.monitoring.window import overdue_history
from mlcycle.moves import hold
from mlcycle.objectstore import ObjectStore
from mlcycle.publication_gate import summary
from mlcycle.storage import Buckets
from mlcycle.verdicts import age_days, overdue_of
from mlcycle.window_store import read_window

logger = get_logger("mlcycle.first_labels")
INPUT_DRIFT = "FeatureDrift"


class AwaitingLabels(MLCycleError):
    """The gate let the batch through with drifted inputs: it waits for its first labels."""

    def __init__(self, result: dict, rows: int):
        super().__init__(f"inputs drifted ({', '.join(result['warnings'])}): awaiting labels")
        self.result, self.rows = result, rows


def awaits_labels(
    cfg: ModelConfig, store: ObjectStore, buckets: Buckets, batch_id: str, prefix: str, gate: dict
) -> bool:
    """Whether this scoring of the batch must wait for its first labels instead of publishing
    or going on probation (a probation's close would publish it unjudged): its inputs drifted
    and labels can show it, and nothing has decided it yet (a new arrival, or a batch held
    while the breaker was open; not one its labels confirmed or an operator released). The
    hold limit's publish fallback scores on probation too, so a batch whose labels never come
    is paged, not published."""
    if cfg.rules.due_column is None or INPUT_DRIFT not in gate["warnings"]:
        return False
    if prefix == storage.incoming_prefix(batch_id):
        return True
    held = held_batch(store, buckets, batch_id)
    return held is not None and not held.decided


def wait_for_labels(
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    prefix: str,
    version: str,
    result: dict,
    rows: int,
) -> dict:
    """Hold the batch with the gate's verdicts until its labels decide (one re-scored from
    held/ stays there, its note marked; labels already in are judged by the monitor's next
    sweep). Nothing is said to the breaker: nothing tripped."""
    verdicts = summary(result)
    why = f"inputs drifted ({', '.join(result['warnings'])}): held for its first labels"
    waiting = {"since": now_iso(), "rows": rows}
    details = {"gate": verdicts, "model_version": version, "awaiting_labels": waiting}
    if prefix == storage.incoming_prefix(batch_id):
        hold(store, buckets, batch_id, why, details)
    else:
        change_held_note(
            store,
            buckets,
            batch_id,
            lambda n: n if n.get("awaiting_labels") else {**n, **details, "reason": why},
        )
    log(logger, "batch held for its first labels", batch_id=batch_id, warnings=result["warnings"])
    return {
        "status": "held",
        "batch_id": batch_id,
        "reason": why,
        "gate": verdicts,
        "awaiting_labels": True,
    }


def waiting_rows(held: HeldBatch) -> int:
    """The batch's rows as the gate counted them (0 when the note does not say)."""
    return int((held.note.get("awaiting_labels") or {}).get("rows") or 0)


def judge_labels(
    cfg: ModelConfig,
    store: ObjectStore,
    buckets: Buckets,
    held: HeldBatch,
    features: pd.DataFrame,
    labels: BatchLabels | None,
) -> dict:
    """The first labels' verdict on a batch waiting for them, written into its note.

    ``features``: the held input source's rows, aligned by position with ``labels``."""
    batch_id = held.batch_id
    base = {
        "batch_id": batch_id,
        "model_version": held.note.get("model_version"),
        "labels": labels is not None,
    }
    if labels is None:
        return {**base, "status": "held", "reason": "awaiting its first labels"}
    age = age_days(labels, held.note["held_at"])
    found = overdue_of(cfg, features, labels, age) or overdue.Overdue(0, 0)
    history = overdue_history(read_window(store, buckets.monitoring, cfg.name), age)
    verdict = overdue.verdict(found, history, cfg.rules.rule(overdue.RULE))
    verdict["age_days"] = age
    decided = {**verdict, "at": now_iso(), "labels": labels.keys[-1]}
    counts = {k: verdict[k] for k in ("age_days", "due", "overdue", "normal_share", "chance")}
    if verdict["level"] == overdue.TRIP:
        breach = {"rule": overdue.RULE, "reason": verdict["reason"]}
        why = f"{overdue.RULE}: {verdict['reason']}: held for corrected inputs"
        change_held_note(
            store,
            buckets,
            batch_id,
            lambda n: {
                **n,
                "reason": why,
                "breaches": [*n.get("breaches", []), {**breach, **decided}],
            },
        )
        log(logger, "first labels overdue: held for corrected inputs", batch_id=batch_id, **counts)
        return {**base, "status": "held", "held": True, "breaches": [breach], "verdict": verdict}
    change_held_note(store, buckets, batch_id, lambda n: {**n, "confirmed": decided})
    log(logger, "first labels confirm a held batch", batch_id=batch_id, **counts)
    return {**base, "status": "confirmed", "breaches": [], "verdict": verdict}
