"""Turn what the deployed stack left in S3 into the demo's report.json.

Everything here is read back from the buckets - monitoring reports, manifests, the
breaker's event log, held and quarantined batches - or was returned by the deployed functions
(`demo.observe`), so the report shows what they did, not what the runner hoped they would do.
What it was worth comes from the world's ground truth (`demo.truth`), scored by
`demo.scorekeeping`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from demo.scenario import Scenario
from demo.scorekeeping import Oracle, Score
from demo.truth import HARM_MARGIN
from mlcycle import storage
from mlcycle.breaker.state import STATE_VALUE, event_log
from mlcycle.monitoring.metrics import REPORTED
from mlcycle.objectstore import ObjectStore
from mlcycle.scoring import published_manifest
from mlcycle.storage import Buckets


@dataclass
class DayRecord:
    """What the runner saw at the end of a simulated day."""

    day: int
    started: dt.datetime
    ended: dt.datetime | None = None
    breaker_state: str = "CLOSED"
    champion: str | None = None
    champion_at_upload: str | None = None  # the model the day's batch arrived to
    notes: list[str] = field(default_factory=list)
    signals: list[dict] = field(default_factory=list)  # demo.observe: the day's verdicts
    corrections: dict[str, dict[str, str]] = field(default_factory=dict)  # batch -> ETags


def day_of(when: str | dt.datetime, records: list[DayRecord]) -> int | None:
    """The simulated day a wall-clock time fell in (the runner logs each day's wall-clock span)."""
    moment = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
    for rec in records:
        if rec.started <= moment and (rec.ended is None or moment <= rec.ended):
            return rec.day
    return None


def batch_outcome(store: ObjectStore, buckets: Buckets, batch_id: str) -> str:
    held = any(True for _ in store.list(buckets.data, storage.held_prefix(batch_id)))
    if store.exists(buckets.predictions, storage.success_key(batch_id)):
        return "published_after_hold" if held else "published"
    if store.exists(buckets.data, storage.quarantine_reason_key(batch_id)):
        return "quarantined"
    if held:
        return "held"  # held while open, or set aside after breaching on probation
    if store.exists(buckets.predictions, storage.success_key(batch_id, probation=True)):
        return "probation"
    return "lost"


def _etag(value: str | None) -> str:
    return (value or "").strip('"')


def _publication(
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    records: list[DayRecord],
    corrected: dict[str, str] | None,
) -> dict | None:
    """When and by which model the batch's predictions were published, if they were, and
    whether from the corrected files (the manifest names the input objects by ETag)."""
    manifest = published_manifest(store, buckets, batch_id)
    if manifest is None:
        return None
    at = manifest.get("released_from_probation_at") or manifest["published_at"]
    inputs = manifest.get("inputs") or {}
    return {
        "day": day_of(at, records),
        "at": at,
        "model_version": manifest["model_version"],
        "rows": manifest["rows"],
        "warnings": manifest.get("warnings") or [],
        "corrected": corrected is not None
        and all(
            _etag((inputs.get(source) or {}).get("etag")) == _etag(etag)
            for source, etag in corrected.items()
        ),
    }


def _bad_after_trip(store: ObjectStore, buckets: Buckets, trips: list[dict]) -> int:
    """Rows published by a model version after a breaker trip on that version."""
    rows = 0
    for batch_id in storage.batch_folders(store, buckets.predictions, storage.PREDICTIONS):
        manifest = published_manifest(store, buckets, batch_id)
        if manifest is None:
            continue
        published = dt.datetime.fromisoformat(manifest["published_at"])
        for trip in trips:
            if (
                trip["model_version"] == manifest["model_version"]
                and dt.datetime.fromisoformat(trip["time"]) < published
            ):
                rows += manifest["rows"]
                break
    return rows


def _verdicts(store: ObjectStore, buckets: Buckets, batch_id: str, report: dict) -> dict:
    """Each rule's level (0 ok, 1 warn, 2 trip) on the batch: the monitor's latest judgement,
    or the gate's for a batch it held and nothing scored since."""
    judged = report.get("rules")
    if judged is None:
        note = store.get_json(buckets.data, storage.held_note_key(batch_id))[0] or {}
        judged = note.get("gate") or {}
    return {rule: v["level"] for rule, v in (judged.get("verdicts") or {}).items()}


def _mae(pairs: list[tuple]) -> float | None:
    return round(sum(abs(p[0] - p[1]) for p in pairs) / len(pairs), 4) if pairs else None


def _transitions(events: list[dict], day: int) -> list[str]:
    """The breaker's state changes on ``day``, as the timeline shows them."""
    return [
        f"{e['from']} -> {e['to']}: {e['cause'].get('reason')}"
        + (f" ({e['cause'].get('alarm')})" if e["cause"].get("alarm") else "")
        for e in events
        if e["day"] == day and e["from"] != e["to"]
    ]


def collect(
    store: ObjectStore,
    buckets: Buckets,
    model_name: str,
    scenario: Scenario,
    records: list[DayRecord],
    oracle: Oracle,
) -> dict:
    events = event_log(store, buckets.monitoring)
    for event in events:
        event["day"] = day_of(event["time"], records)
    trips = [e for e in events if e["to"] == "OPEN" and e["from"] != "OPEN"]
    corrections = {
        batch: (rec.day, etags) for rec in records for batch, etags in rec.corrections.items()
    }
    days, prev_state = [], "CLOSED"
    for rec in records[: scenario.days]:
        batch_id = scenario.batch_id(rec.day)
        report = store.get_json(buckets.monitoring, storage.report_key(batch_id))[0] or {}
        rows = (report.get("headline") or {}).get("RowCount")
        corrected_day, corrected = corrections.get(batch_id, (None, None))
        incident = scenario.incident_on(rec.day)
        seen = [prev_state] + [e["to"] for e in events if e["day"] == rec.day]
        prev_state = rec.breaker_state
        days.append(
            {
                "worst_state": max(seen, key=lambda s: STATE_VALUE.get(s, 0)),
                "day": rec.day,
                "date": scenario.date(rec.day).isoformat(),
                "batch_id": batch_id,
                "rows": None if rows is None else int(rows),
                "incident": incident.type if incident else None,
                "champion": rec.champion,
                "champion_at_upload": rec.champion_at_upload,
                "breaker_state": rec.breaker_state,
                "batch_status": batch_outcome(store, buckets, batch_id),
                "corrected_day": corrected_day,
                "publication": _publication(store, buckets, batch_id, records, corrected),
                "truth": oracle.truth(rec.day, rec.champion_at_upload).to_json(),
                "metrics": {m.name: (report.get("headline") or {}).get(m.name) for m in REPORTED},
                "breaches": [b.get("rule") or b["metric"] for b in report.get("breaches", [])],
                "verdicts": _verdicts(store, buckets, batch_id, report),
                "signals": rec.signals,
                "labels_complete": bool((report.get("labels") or {}).get("complete")),
                "events": rec.notes + _transitions(events, rec.day),
            }
        )
    # Increments reveal the early statuses (cancellations) first: accuracy on them is no
    # measure of the estimate.
    pairs = [
        (d["metrics"]["EstimatedAccuracy"], d["metrics"]["RealisedAccuracy"], d["incident"])
        for d in days
        if d["metrics"]["EstimatedAccuracy"] is not None
        and d["metrics"]["RealisedAccuracy"] is not None
        and d["labels_complete"]
    ]
    clean = [(e, r, i) for e, r, i in pairs if i is None]
    after = [
        {
            "day": rec.day,
            "champion": rec.champion,
            "champion_at_upload": rec.champion_at_upload,
            "breaker_state": rec.breaker_state,
            "signals": rec.signals,
            "events": rec.notes + _transitions(events, rec.day),
        }
        for rec in records[scenario.days :]
    ]
    outcomes = [d["batch_status"] for d in days]
    return {
        "settings": {
            "days": scenario.days,
            # Days after the last batch (labels and verdicts, no new batch): after_last_day.
            "drain_days": len(records) - scenario.days,
            "seed": scenario.seed,
            "label_delay_days": scenario.label_delay_days,
            "rows_per_day": scenario.rows_per_day,
            "model_name": model_name,
            "harm_margin": HARM_MARGIN,
        },
        "days": days,
        "after_last_day": after,
        **Score(scenario, days, events, oracle, after).totals(),
        "published_bad_predictions_after_trip": _bad_after_trip(store, buckets, trips),
        "accuracy_estimate_mae": _mae(pairs),
        # A label-free estimate cannot see a change in behaviour: clean days show its calibration.
        "accuracy_estimate_mae_clean_days": _mae(clean),
        "breaker_events": events,
        "outcome": {status: outcomes.count(status) for status in sorted(set(outcomes))}
        | {"lost": outcomes.count("lost")},
    }
