"""Turn what the deployed stack left in S3 into the demo's report.json.

Everything here is read back from the buckets - monitoring reports, manifests, the
breaker's event log, held and quarantined batches - so the report shows what the
deployed functions did, not what the runner hoped they would do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from demo.scenario import Scenario
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
    notes: list[str] = field(default_factory=list)
    breaches: list[str] = field(
        default_factory=list
    )  # what the monitor flagged that day, any batch


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


def _incidents(
    scenario: Scenario, records: list[DayRecord], days: list[dict], trips: list[dict]
) -> list[dict]:
    out = []
    for incident in scenario.incidents:
        detected = next((r.day for r in records if r.day >= incident.day and r.breaches), None)
        opened = next(
            (t["day"] for t in trips if t["day"] is not None and t["day"] >= incident.day), None
        )
        recovered = next(
            (
                d["day"]
                for d in days
                if opened and d["day"] >= opened and d["breaker_state"] == "CLOSED"
            ),
            None,
        )
        out.append(
            {
                "type": incident.type,
                "day": incident.day,
                "last_day": incident.last_day,
                "detected_day": detected,
                "breaker_opened_day": opened,
                "recovered_day": recovered,
            }
        )
    return out


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


def collect(
    store: ObjectStore,
    buckets: Buckets,
    model_name: str,
    scenario: Scenario,
    records: list[DayRecord],
) -> dict:
    events = event_log(store, buckets.monitoring)
    for event in events:
        event["day"] = day_of(event["time"], records)
    trips = [e for e in events if e["to"] == "OPEN" and e["from"] != "OPEN"]
    days, prev_state = [], "CLOSED"
    for rec in records:
        batch_id = scenario.batch_id(rec.day)
        report = store.get_json(buckets.monitoring, storage.report_key(batch_id))[0] or {}
        incident = scenario.incident_on(rec.day)
        day_events = [
            f"{e['from']} -> {e['to']}: {e['cause'].get('reason')}"
            + (f" ({e['cause'].get('alarm')})" if e["cause"].get("alarm") else "")
            for e in events
            if e["day"] == rec.day and e["from"] != e["to"]
        ]
        seen = [prev_state] + [e["to"] for e in events if e["day"] == rec.day]
        prev_state = rec.breaker_state
        days.append(
            {
                "worst_state": max(seen, key=lambda s: STATE_VALUE.get(s, 0)),
                "day": rec.day,
                "date": scenario.date(rec.day).isoformat(),
                "batch_id": batch_id,
                "rows": (report.get("headline") or {}).get("RowCount"),
                "incident": incident.type if incident else None,
                "champion": rec.champion,
                "breaker_state": rec.breaker_state,
                "batch_status": batch_outcome(store, buckets, batch_id),
                "metrics": {m.name: (report.get("headline") or {}).get(m.name) for m in REPORTED},
                "breaches": [b.get("rule") or b["metric"] for b in report.get("breaches", [])],
                "verdicts": _verdicts(store, buckets, batch_id, report),
                "labels_complete": bool((report.get("labels") or {}).get("complete")),
                "events": rec.notes + day_events,
            }
        )
    incident_days = {
        d
        for i in scenario.incidents
        for d in range(i.day, i.last_day + scenario.label_delay_days + 2)
    }
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
    outcomes = [d["batch_status"] for d in days]
    champions, versions = [], None
    for rec in records:
        if rec.champion != versions:
            champions.append({"version": rec.champion, "from_day": rec.day})
            versions = rec.champion
    return {
        "settings": {
            "days": scenario.days,
            "seed": scenario.seed,
            "label_delay_days": scenario.label_delay_days,
            "rows_per_day": scenario.rows_per_day,
            "model_name": model_name,
        },
        "label_delay_days": scenario.label_delay_days,
        "days": days,
        "incidents": _incidents(scenario, records, days, trips),
        "published_bad_predictions_after_trip": _bad_after_trip(store, buckets, trips),
        "false_trips": sum(1 for t in trips if t["day"] not in incident_days),
        "champion_versions": champions,
        "accuracy_estimate_mae": _mae(pairs),
        # A label-free estimate cannot see a change in behaviour: clean days show its calibration.
        "accuracy_estimate_mae_clean_days": _mae(clean),
        "breaker_events": events,
        "outcome": {status: outcomes.count(status) for status in sorted(set(outcomes))}
        | {"lost": outcomes.count("lost")},
    }
