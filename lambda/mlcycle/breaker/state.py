"""The breaker's state: one small S3 object with a revision counter, and its one reader.

The reader fails closed: a missing, empty, unparseable or unknown document is the state
UNKNOWN, never CLOSED. UNKNOWN holds every batch, changes no rule and asks for no retrain;
only an operator's explicit `repair` action writes a state over it. Deployment creates
the object once (`create_initial`, a conditional create that never overwrites).
"""

from __future__ import annotations

import json

from mlcycle import storage
from mlcycle.clock import stored_time
from mlcycle.objectstore import ObjectStore, PreconditionFailed

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
UNKNOWN = "UNKNOWN"
KNOWN_STATES = (CLOSED, OPEN, HALF_OPEN)
# The BreakerState metric and the demo's severity: higher is further from publishing.
STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2, UNKNOWN: 3}


def initial_state() -> dict:
    return {
        "state": CLOSED,
        "revision": 0,
        "since": None,
        "cause": None,
        "model_version": None,
        "probation": None,
        "rejected": {},
        "tripped_at": None,
        "incident": None,
    }


def _is_utc_time(value: object) -> bool:
    return stored_time(value) is not None


def _problem(doc: object) -> str | None:
    """What makes a stored document unusable as a breaker state, or None."""
    if not isinstance(doc, dict) or not doc:
        return "the document is empty or not a JSON object"
    if doc.get("state") not in KNOWN_STATES:
        return f"unknown state {str(doc.get('state'))[:40]!r}"
    revision = doc.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        return "revision is not a count"
    if not isinstance(doc.get("rejected", {}), dict):
        return "rejected is not an object"
    requests = doc.get("retrain_requests", [])
    if not isinstance(requests, list) or not all(_is_utc_time(t) for t in requests):
        return "retrain_requests is not a list of times with a zone"
    incident = doc.get("incident")
    if incident is not None and not (
        isinstance(incident, dict)
        and _is_utc_time(incident.get("since"))
        and (incident.get("labels_since") is None or _is_utc_time(incident["labels_since"]))
    ):
        return "incident is not an object with since (and labels_since) times"
    probation = doc.get("probation")
    if doc["state"] == HALF_OPEN and not (
        isinstance(probation, dict) and isinstance(probation.get("healthy"), list)
    ):
        return "HALF_OPEN without a probation record"
    return None


def unknown_state(problem: str) -> dict:
    return {**initial_state(), "state": UNKNOWN, "problem": problem, "revision": -1}


def read_state(store: ObjectStore, bucket: str) -> tuple[dict, str | None]:
    """(state, etag). UNKNOWN, with `problem` saying why, when the object cannot be trusted;
    S3 errors other than "no such key" propagate (the caller fails and is retried)."""
    body, etag = store.get_with_etag(bucket, storage.BREAKER_STATE_KEY)
    if body is None:
        return unknown_state(f"{storage.BREAKER_STATE_KEY} is missing"), None
    try:
        doc = json.loads(body)
    except ValueError:
        return unknown_state(f"{storage.BREAKER_STATE_KEY} is not valid JSON"), etag
    problem = _problem(doc)
    if problem:
        return unknown_state(f"{storage.BREAKER_STATE_KEY}: {problem}"), etag
    return doc, etag


def create_initial(store: ObjectStore, bucket: str) -> bool:
    """Create the CLOSED state once; True if created, False if a state object already exists."""
    try:
        store.put_json(bucket, storage.BREAKER_STATE_KEY, initial_state(), if_none_match=True)
    except PreconditionFailed:
        return False
    return True


def event_log(store: ObjectStore, bucket: str, last: int | None = None) -> list[dict]:
    """The transitions in breaker/events.jsonl, oldest first (the `last` N when given)."""
    return store.read_lines(bucket, storage.BREAKER_EVENTS_KEY, last)
