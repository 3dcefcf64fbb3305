"""Judging a batch: every rule's level from the batch's statistics, its limits and the window.

The same function runs in infer before publication (label-free rules only, on the counts of
the chunks it scored) and in the monitor after it (all rules, labels included), so a batch
the gate let through is judged by the same arithmetic when the monitor looks again.
"""

from __future__ import annotations

import numpy as np

from . import calibration
from . import window as windows
from .batchstats import BatchStats
from .drift import drift_verdicts
from .early import early_observation
from .labelstats import LabelStats
from .limits import Expected, Observation, Version, expected, observations, standardised
from .rules import BY_NAME, OK, RULES, TRIP, WARN, RuleSettings, Settings


def calibration_table(version: Version, window: dict, settings: Settings) -> calibration.Table:
    return calibration.table(
        version.limits["calibration"],
        windows.calibration_entries(window, version.name, settings.calibration_batches),
        settings.calibration_min_rows,
    )


def judge(
    model: Version,
    stats: BatchStats,
    labels: LabelStats | None,
    window: dict,
    settings: Settings,
    batch_id: str,
) -> dict:
    """{"level", "trips", "warnings", "verdicts": {rule: verdict}, "values", "sizes", "z",
    "drift": {...}} for one batch."""
    version, limits = model.name, model.limits
    table = calibration_table(model, window, settings)
    found = observations(model.layout, stats, labels, table)
    normals = [
        expected(
            o,
            limits,
            windows.history(window, o.key, version, batch_id, settings.min_window),
            settings.min_window,
        )
        for o in found
    ]
    if labels is not None and not labels.complete and labels.age_days is not None:
        history, borrowed = windows.early_history(
            window,
            labels.age_days,
            version,
            batch_id,
            limits.get("timing_edges"),
            settings.min_window,
        )
        early = early_observation(labels, history, settings.min_window, borrowed)
        if early is not None:
            found.append(early[0])
            normals.append(early[1])
    judged = [
        _judge_one(o, normal, window, settings, version, batch_id)
        for o, normal in zip(found, normals, strict=True)
    ]
    verdicts: dict[str, dict] = {}
    for verdict in judged:
        rule = verdict["rule"]
        if rule not in verdicts or (verdict["level"], verdict["badness"]) > (
            verdicts[rule]["level"],
            verdicts[rule]["badness"],
        ):
            verdicts[rule] = verdict
    verdicts["Volume"] = _volume(stats.rows, window, settings, batch_id)
    drift = drift_verdicts(model, stats, window, settings, batch_id)
    verdicts.update(drift["verdicts"])
    verdicts = {r.name: verdicts[r.name] for r in RULES if r.name in verdicts}
    for name, verdict in verdicts.items():
        if not settings.rule(name).enabled:
            verdict.update(level=OK, reason="disabled in monitoring.rules")
    trips = [name for name, v in verdicts.items() if v["level"] >= TRIP]
    warnings = [name for name, v in verdicts.items() if v["level"] == WARN]
    return {
        "level": max((v["level"] for v in verdicts.values()), default=OK),
        "trips": trips,
        "warnings": warnings,
        "verdicts": verdicts,
        "likely_cause": drift["summary"]["drifted"][:3] if trips else [],
        "values": {v.key: v.value for v in found},
        "sizes": {v.key: v.rows for v in found},
        "z": {j["sequence_key"]: j["z"] for j in judged if j["basis"] == "window"},
        "drift": drift["summary"],
        "calibration": {"source": table.source, "rows": int(table.rows.sum())},
        "estimate": calibration.estimate(stats.confidence, table),
    }


def _badness(rule: str, z: float) -> float:
    side = BY_NAME[rule].side
    return -z if side == "low" else z if side == "high" else abs(z)


def _absolute(value: float, rule: RuleSettings) -> int | None:
    """The level from explicit limits in the config, None when the rule has none."""
    bounds = (rule.trip_below, rule.trip_above, rule.warn_below, rule.warn_above)
    if all(b is None for b in bounds):
        return None
    if (rule.trip_below is not None and value < rule.trip_below) or (
        rule.trip_above is not None and value > rule.trip_above
    ):
        return TRIP
    if (rule.warn_below is not None and value < rule.warn_below) or (
        rule.warn_above is not None and value > rule.warn_above
    ):
        return WARN
    return OK


def _cusum(zs: list[float], rule: str, k: float) -> float:
    """Page's CUSUM of the standardised values on the harmful side (both sides: the larger
    of the two one-sided sums)."""
    side = BY_NAME[rule].side
    high = low = 0.0
    for z in zs:
        high, low = max(0.0, high + z - k), max(0.0, low - z - k)
    return high if side == "high" else low if side == "low" else max(high, low)


def _judge_one(
    o: Observation,
    normal: Expected | None,
    window: dict,
    settings: Settings,
    version: str,
    batch_id: str,
) -> dict:
    rule, config = BY_NAME[o.rule], settings.rule(o.rule)
    verdict = {
        "rule": o.rule,
        "family": rule.family,
        "part": o.part,
        "key": o.key,
        "sequence_key": o.sequence_key,
        "value": o.value,
        "rows": o.rows,
        "centre": None,
        "sd": None,
        "z": None,
        "cusum": None,
        "basis": None,
        "badness": 0.0,
        "level": OK,
        "reason": "no normal range yet (no reference value and too few healthy batches)",
    }
    absolute = _absolute(o.value, config)
    if normal is None and absolute is None:
        return verdict
    level = absolute or OK
    reason = "explicit limit in monitoring.rules" if absolute is not None else ""
    if normal is not None:
        z = standardised(o, normal)
        effect = abs(o.value - normal.centre)
        if o.kind == "ratio":
            effect /= max(normal.centre, 1e-9)
        # Small offsets accumulate only against production's own normal: a reference centre
        # a little off (another season) would otherwise add up to a trip on a clean batch.
        cusum = 0.0
        if normal.source == "window" and rule.sequential:
            sequence = windows.sequence(window, o.sequence_key, version, batch_id) + [z]
            cusum = _cusum(sequence, o.rule, settings.cusum_k)
        badness = _badness(o.rule, z)
        material = effect >= config.min_effect
        cusum_warn, cusum_trip = settings.cusum_levels(o.rule)
        if absolute is None:
            if material and (badness >= config.trip_z or cusum >= cusum_trip):
                level = TRIP
            elif material and (badness >= config.warn_z or cusum >= cusum_warn):
                level = WARN
            basis = normal.source + (f", {normal.batches} batches" if normal.batches else "")
            reason = (
                f"{o.value:.4g} vs normal {normal.centre:.4g} +- {normal.sd:.2g} ({basis}): "
                f"z {z:+.1f}, sequential {cusum:.1f}"
            )
        verdict.update(
            centre=normal.centre,
            sd=normal.sd,
            z=float(z),
            cusum=cusum,
            basis=normal.source,
            badness=badness,
        )
    if not rule.trips:
        level = min(level, WARN)
    verdict.update(level=level, reason=reason)
    return verdict


def _volume(rows: int, window: dict, settings: Settings, batch_id: str) -> dict:
    """Rows below the floor of measured volume mean missing data (trip); other changes, and a
    shortfall against a volume the config only states, are a business warning."""
    sizes = [e["rows"] for e in windows.current(window) if e["batch_id"] != batch_id]
    measured = len(sizes) >= settings.min_window
    normal = float(np.median(sizes)) if measured else settings.expected_rows
    verdict = {"rule": "Volume", "family": "integrity", "value": float(rows), "level": OK}
    if not normal:
        explicit = _absolute(float(rows), settings.rule("Volume"))
        return {
            **verdict,
            "level": explicit or OK,
            "reason": "explicit limit in monitoring.rules"
            if explicit is not None
            else "no expected volume (expected_batch_rows or the window)",
        }
    spread = float(np.std(sizes, ddof=1)) if measured else 0.0
    sd = max(spread, float(np.sqrt(normal)))
    z = (rows - normal) / sd
    config = settings.rule("Volume")
    level = OK
    short = rows < settings.volume_floor * normal
    if short and measured:
        level = TRIP
    elif short or (abs(z) >= config.warn_z and abs(rows / normal - 1) >= 0.1):
        level = WARN
    explicit = _absolute(float(rows), config)
    if explicit is not None:
        level = explicit
    basis = f"median of {len(sizes)} batches" if measured else "expected_batch_rows"
    return {
        **verdict,
        "centre": float(normal),
        "sd": sd,
        "z": z,
        "level": level,
        "basis": "window" if measured else "config",
        "reason": f"{rows} rows vs normal {normal:.0f} ({basis}; "
        f"floor {settings.volume_floor:.0%})",
    }
