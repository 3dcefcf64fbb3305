"""What the deployed functions said during a simulated day, as the runner saw their results.

S3 keeps only the latest monitoring report of a batch, and an alarm's cause names a rule, not
a batch; the function results name both. So the runner keeps, per day, every verdict the gate
(infer, before publication) and the monitor gave a batch: the scorekeeping attributes each
breaker trip to the batches whose rules fired, and the day's notes are made from the same
results.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _breach_name(breach: dict) -> str:
    """A rule's trip names the rule; a threshold from monitoring.alarms, its metric."""
    return breach.get("rule") or breach["metric"]


def _gate_signal(result: dict) -> dict:
    gate = result["gate"]
    return {
        "batch_id": result["batch_id"],
        "by": "gate",
        "trips": list(gate.get("trips") or []),
        "warnings": list(gate.get("warnings") or []),
        "reasons": {
            rule: verdict.get("reason", "")
            for rule, verdict in (gate.get("verdicts") or {}).items()
            if rule in (gate.get("trips") or [])
        },
        "model_version": result.get("model_version"),  # absent when held: the champion's
        "probation": bool(result.get("probation")),
        "held": result.get("status") == "held",
        "live": True,
    }


def _monitor_signal(result: dict) -> dict:
    breaches = result.get("breaches") or []
    return {
        "batch_id": result["batch_id"],
        "by": "monitor",
        "trips": [_breach_name(b) for b in breaches],
        "warnings": list(result.get("warnings") or []),
        "reasons": {
            _breach_name(b): b.get("reason") or f"{b.get('value', 0):.3f}" for b in breaches
        },
        "model_version": result.get("model_version"),
        "probation": bool(result.get("probation")),
        "held": bool(result.get("held")),  # a batch held for its first labels, judged by them
        # Only the live model's verdicts reach CloudWatch, and so the alarms.
        "live": bool(result.get("live_model", True)),
        "labels": bool(result.get("labels")),
    }


def _note(signal: dict) -> str:
    batch = signal["batch_id"]
    if signal["by"] == "gate" and signal["held"] and not signal["trips"]:
        return f"{batch}: held for its first labels, warns {', '.join(signal['warnings'])}"
    if signal["by"] == "gate" and signal["held"]:
        return f"{batch}: gate tripped {', '.join(signal['trips'])}"
    if signal["by"] == "gate":
        where = "on probation" if signal["probation"] else "published"
        fired = signal["trips"] or signal["warnings"]
        verb = "trips" if signal["trips"] else "warns"
        return f"{batch}: {where}, {verb} {', '.join(fired)}"
    return f"{batch}: " + ", ".join(signal["trips"])


def observe(invocations: Iterable[Any], functions: dict[str, str]) -> tuple[list[str], list[dict]]:
    """(notes for the day's line, signals: every trip or warning of the gate and the monitor,
    in the order the functions gave them)."""
    notes: list[str] = []
    signals: list[dict] = []
    for inv in invocations:
        result = inv.result if isinstance(inv.result, dict) else {}
        if not inv.ok:
            message = (inv.error or {}).get("errorMessage", "")
            notes.append(f"{inv.function} FAILED: {message[:80]}")
        elif inv.function == functions["train"] and result.get("version"):
            fit = result.get("fit")
            how = f", {fit} fit" if fit and fit != "scheduled" else ""
            notes.append(f"trained {result['version']} ({result['status']}{how})")
        elif inv.function in (functions["infer"], functions["monitor"]):
            make = _gate_signal if inv.function == functions["infer"] else _monitor_signal
            for r in result.get("results", []):
                if inv.function == functions["infer"] and not r.get("gate"):
                    continue
                signal = make(r)
                if signal["trips"] or signal["warnings"]:
                    signals.append(signal)
                    if signal["trips"] or signal["by"] == "gate":
                        notes.append(_note(signal))
    return notes, signals
