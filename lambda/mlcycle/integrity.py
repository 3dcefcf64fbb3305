"""Whether a batch's inputs broke an integrity rule: what keeps its labels out of training.

Two witnesses: the gate's hold note (held/<batch>/held.json, the rules that tripped before
publication) and the monitor's report (reports/<batch>.json, the rules judged with the
window). Only the integrity family counts. A batch with a performance trip had fine inputs
and a model that was wrong about them: its labels carry the new behaviour a recovery must
learn, so it stays in.
"""

from __future__ import annotations

from mlcycle import storage
from mlcycle.monitoring.rules import integrity_rules
from mlcycle.objectstore import ObjectStore
from mlcycle.storage import Buckets


def _tripped(store: ObjectStore, bucket: str, key: str, part: str) -> list[str]:
    """The integrity rules the document at `key` records as tripped under `part`.trips.

    An unreadable document counts as a trip: fail closed, never train on what cannot be
    checked."""
    try:
        doc, _ = store.get_json(bucket, key)
    except ValueError:
        return [f"unreadable {key}"]
    names = ((doc or {}).get(part) or {}).get("trips")
    return integrity_rules(names or [])


def integrity_trips(
    store: ObjectStore, buckets: Buckets, batch_id: str, held_inputs: bool
) -> dict[str, list[str]]:
    """{witness: the integrity rules it saw trip}, empty for a clean batch.

    ``held_inputs``: the labels pair with the inputs under held/. Only then does the hold
    note speak for them: a corrected re-upload published since is a new revision, judged by
    its own report.
    """
    witnesses = {"monitor report": (buckets.monitoring, storage.report_key(batch_id), "rules")}
    if held_inputs:
        witnesses["gate hold"] = (buckets.data, storage.held_note_key(batch_id), "gate")
    found = {name: _tripped(store, *where) for name, where in witnesses.items()}
    return {name: rules for name, rules in found.items() if rules}
