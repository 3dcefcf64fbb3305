"""Turn what the deployed stack left in S3 into the demo's report.json.

Everything here is read back from the buckets - monitoring reports, manifests, the
breaker's event log, held and quarantined batches - so the report shows what the
deployed functions did, not what the runner hoped they would do.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from demo.scenario import Scenario

SEVERITY = {"CLOSED": 0, "HALF_OPEN": 1, "OPEN": 2}
KEY_METRICS = ("JoinCoverage", "MaxNullRate", "DriftedFeatureShare", "MaxPSI", "PredictionDrift", "EstimatedAccuracy",
               "RealisedAccuracy", "PredictedCancellationRate", "RealisedCancellationRate", "VolumeRatio")


@dataclass
class DayRecord:
    """What the runner saw at the end of a simulated day."""
    day: int
    started: dt.datetime
    ended: dt.datetime | None = None
    breaker_state: str = "CLOSED"
    champion: str | None = None
    notes: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)  # what the monitor flagged that day, any batch


def _json(s3, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def breaker_events(s3, bucket: str) -> list[dict]:
    try:
        body = s3.get_object(Bucket=bucket, Key="breaker/events.jsonl")["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        return []
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def day_of(when: str | dt.datetime, records: list[DayRecord]) -> int | None:
    """Which simulated day a wall-clock time fell in (the runner logs each day's wall-clock span)."""
    moment = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
    for rec in records:
        if rec.started <= moment and (rec.ended is None or moment <= rec.ended):
            return rec.day
    return None


def batch_outcome(s3, buckets: dict, batch_id: str) -> str:
    if _keys(s3, buckets["predictions"], f"predictions/{batch_id}/_SUCCESS"):
        held = _keys(s3, buckets["data"], f"held/{batch_id}/")
        return "published_after_hold" if held else "published"
    if _keys(s3, buckets["data"], f"quarantine/{batch_id}/reason.json"):
        return "quarantined"
    if _keys(s3, buckets["data"], f"held/{batch_id}/"):
        return "held"  # held while open, or set aside after breaching on probation
    if _keys(s3, buckets["predictions"], f"probation/{batch_id}/_SUCCESS"):
        return "probation"
    return "lost"


def _incidents(scenario: Scenario, records: list[DayRecord], days: list[dict], trips: list[dict]) -> list[dict]:
    out = []
    for incident in scenario.incidents:
        detected = next((r.day for r in records if r.day >= incident.day and r.breaches), None)
        opened = next((t["day"] for t in trips if t["day"] is not None and t["day"] >= incident.day), None)
        recovered = next((d["day"] for d in days if opened and d["day"] >= opened and d["breaker_state"] == "CLOSED"), None)
        out.append({"type": incident.type, "day": incident.day, "last_day": incident.last_day,
                    "detected_day": detected, "breaker_opened_day": opened, "recovered_day": recovered})
    return out


def _bad_after_trip(s3, buckets: dict, trips: list[dict]) -> int:
    """Rows published by a model version after a breaker trip on that version."""
    rows = 0
    for key in _keys(s3, buckets["predictions"], "predictions/"):
        if not key.endswith("/_SUCCESS"):
            continue
        manifest = _json(s3, buckets["predictions"], key)
        published = dt.datetime.fromisoformat(manifest["published_at"])
        for trip in trips:
            if trip["model_version"] == manifest["model_version"] and dt.datetime.fromisoformat(trip["time"]) < published:
                rows += manifest["rows"]
                break
    return rows


def _mae(pairs: list[tuple]) -> float | None:
    return round(sum(abs(p[0] - p[1]) for p in pairs) / len(pairs), 4) if pairs else None


def collect(s3, buckets: dict, scenario: Scenario, records: list[DayRecord], thresholds: dict) -> dict:
    events = breaker_events(s3, buckets["monitoring"])
    for event in events:
        event["day"] = day_of(event["time"], records)
    trips = [e for e in events if e["to"] == "OPEN" and e["from"] != "OPEN"]
    days, prev_state = [], "CLOSED"
    for rec in records:
        batch_id = scenario.batch_id(rec.day)
        report = _json(s3, buckets["monitoring"], f"reports/{batch_id}.json") or {}
        incident = scenario.incident_on(rec.day)
        day_events = [f"{e['from']} -> {e['to']}: {e['cause'].get('reason')}"
                      + (f" ({e['cause'].get('alarm')})" if e["cause"].get("alarm") else "")
                      for e in events if e["day"] == rec.day and e["from"] != e["to"]]
        seen = [prev_state] + [e["to"] for e in events if e["day"] == rec.day]
        prev_state = rec.breaker_state
        days.append({
            "worst_state": max(seen, key=lambda s: SEVERITY.get(s, 0)),
            "day": rec.day, "date": scenario.date(rec.day).isoformat(), "batch_id": batch_id,
            "rows": (report.get("headline") or {}).get("RowCount"), "incident": incident.type if incident else None,
            "champion": rec.champion, "breaker_state": rec.breaker_state,
            "batch_status": batch_outcome(s3, buckets, batch_id),
            "metrics": {m: (report.get("headline") or {}).get(m) for m in KEY_METRICS},
            "breaches": [b["metric"] for b in report.get("breaches", [])],
            "events": rec.notes + day_events,
        })
    incident_days = {d for i in scenario.incidents for d in range(i.day, i.last_day + scenario.label_delay_days + 2)}
    pairs = [(d["metrics"]["EstimatedAccuracy"], d["metrics"]["RealisedAccuracy"], d["incident"]) for d in days
             if d["metrics"]["EstimatedAccuracy"] is not None and d["metrics"]["RealisedAccuracy"] is not None]
    clean = [(e, r, i) for e, r, i in pairs if i is None]
    outcomes = [d["batch_status"] for d in days]
    champions, versions = [], None
    for rec in records:
        if rec.champion != versions:
            champions.append({"version": rec.champion, "from_day": rec.day})
            versions = rec.champion
    return {
        "settings": {"days": scenario.days, "seed": scenario.seed, "label_delay_days": scenario.label_delay_days,
                     "rows_per_day": scenario.rows_per_day, "model_name": "booking_status"},
        "label_delay_days": scenario.label_delay_days,
        "days": days,
        "incidents": _incidents(scenario, records, days, trips),
        "published_bad_predictions_after_trip": _bad_after_trip(s3, buckets, trips),
        "false_trips": sum(1 for t in trips if t["day"] not in incident_days),
        "champion_versions": champions,
        "accuracy_estimate_mae": _mae(pairs),
        # A label-free estimate cannot see a change in behaviour: clean days show its calibration.
        "accuracy_estimate_mae_clean_days": _mae(clean),
        "thresholds": thresholds,
        "breaker_events": events,
        "outcome": {status: outcomes.count(status) for status in sorted(set(outcomes))} | {"lost": outcomes.count("lost")},
    }
