"""Whether a batch's inputs broke an integrity rule: what keeps its labels out of training.

Two witnesses: the gate's hold note (held/<batch>/held.json, the rules that tripped before
publication, and those a held batch breached later: on probation, or by its first labels) and
the monitor's report (reports/<batch>.json, the rules judged with the
window). The integrity family counts, and so does one more signature in the report: a
performance trip on drifted inputs (the trip's likely cause names drifted columns). A
corrupted feature looks like that (a benign shift drifts without harm, a change in behaviour
harms without drift), and a model trained on it learns the corruption; an operator's
`accept_shift` makes such drift the new normal, and batches after it count again. A batch
with a performance trip on inputs like the usual ones had a model that was wrong about them:
its labels carry the new behaviour a recovery must learn, so it stays in.
"""

from __future__ import annotations

from mlcycle import storage
from mlcycle.monitoring.rules import integrity_rules, performance_rules
from mlcycle.objectstore import ObjectStore
from mlcycle.storage import Buckets


def _read(store: ObjectStore, bucket: str, key: str) -> tuple[dict, list[str]]:
    """(the document, []) or, when it cannot be read, ({}, a witness that counts as a trip):
    fail closed, never train on what cannot be checked."""
    try:
        doc, _ = store.get_json(bucket, key)
    except ValueError:
        return {}, [f"unreadable {key}"]
    return doc or {}, []


def _tripped(doc: dict, part: str) -> list[str]:
    """The integrity rules ``doc`` records as tripped under `part`.trips."""
    verdicts = doc.get(part) or {}
    names = verdicts.get("trips") or []
    found = integrity_rules(names)
    drifted = verdicts.get("likely_cause") or []
    harmed = performance_rules(names)
    if harmed and drifted:
        found.append(f"{', '.join(harmed)} on drifted inputs ({', '.join(drifted)})")
    return found


def integrity_trips(
    store: ObjectStore, buckets: Buckets, batch_id: str, held_inputs: bool
) -> dict[str, list[str]]:
    """{witness: the integrity rules it saw trip}, empty for a clean batch.

    ``held_inputs``: the labels pair with the inputs under held/. Only then does the hold
    note speak for them (read once: the gate's trips, and the breaches after it, on probation
    or by its first labels): a corrected re-upload published since is a new revision, judged
    by its own report.
    """
    report, unreadable = _read(store, buckets.monitoring, storage.report_key(batch_id))
    found = {"monitor report": unreadable or _tripped(report, "rules")}
    if held_inputs:
        note, unreadable = _read(store, buckets.data, storage.held_note_key(batch_id))
        breaches = [str(b.get("rule")) for b in note.get("breaches") or [] if isinstance(b, dict)]
        found["gate hold"] = unreadable or _tripped(note, "gate")
        found["held batch"] = integrity_rules(breaches)
    return {name: rules for name, rules in found.items() if rules}
