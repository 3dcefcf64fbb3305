"""Which kind of harm a trip names, and so which action fits it.

Integrity rules say the input is broken: the model is fine, and another model would meet
the same broken input. Such a batch is held for corrected inputs and no retrain is asked
for. Performance rules say the predictions are worse: the breaker opens and a retrain (or a
rollback) is the remedy.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlcycle.monitoring.rules import INTEGRITY, integrity_rules, label_rules

HELD_FOR_INPUTS = "held for corrected inputs"
NO_RETRAIN_FOR_INPUTS = (
    "an integrity rule tripped: the inputs, not the model, are suspect "
    "(corrected inputs or an operator resolve it)"
)


def inputs_broken(names: Iterable[str]) -> bool:
    """Whether an integrity rule is among them. What else tripped on the same batch follows
    from its inputs (hotels missing lower the model's confidence: a 94% source outage also
    cost the estimated accuracy 4 points, z -10), so the inputs are corrected first and the
    same champion judges them again."""
    return bool(integrity_rules(list(names)))


def opened_for_inputs(state: dict) -> bool:
    """The breaker is open because an integrity rule tripped after publication."""
    return ((state.get("cause") or {}).get("family")) == INTEGRITY


def named_rules(cause: dict | None) -> list[str]:
    """The rules a cause names: an alarm's rule, a gate's rules, a probation breach's."""
    cause = cause or {}
    names = [cause.get("rule"), *(cause.get("rules") or [])]
    names += [b.get("rule") for b in cause.get("breaches") or [] if isinstance(b, dict)]
    return [n for n in names if isinstance(n, str)]


def label_triggered(cause: dict | None) -> bool:
    """The trip came from labels (partial or complete): the model it brings must be confirmed
    by labels too, since only labels could see what went wrong."""
    return bool(label_rules(named_rules(cause)))
