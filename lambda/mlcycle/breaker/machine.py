"""The state machine: CLOSED -> OPEN -> HALF_OPEN -> CLOSED, held in one S3 object.

Every change is a conditional write on the ETag that was read (two writers never
both win: the loser re-reads and decides again), and every transition appends one
line to breaker/events.jsonl. The side effects - disabling the inference rule, asking
for a retrain, releasing probation output - go through `BreakerActions`, so the state
machine itself is testable without AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mlcycle import storage
from mlcycle.breaker.state import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    UNKNOWN,
    event_log,
    initial_state,
    read_state,
)
from mlcycle.clock import now_iso
from mlcycle.errors import MLCycleError
from mlcycle.objectstore import ObjectStore, PreconditionFailed

UNKNOWN_NOTE = (
    "breaker state unknown ({}): nothing changed; an operator repairs it with "
    '{{"action": "repair", "reason": "..."}}'
)


class BreakerActions(Protocol):
    def disable_inference(self) -> None: ...
    def enable_inference(self) -> None: ...
    def request_retrain(self, cause: dict) -> None: ...
    def score_held(self, probation: bool) -> None: ...
    def release_probation(self, batch_ids: list[str]) -> list[str]: ...
    def reject_batch(self, batch_id: str, reason: dict) -> None: ...
    def publish_state(self, state: str) -> None: ...


@dataclass
class Transition:
    changed: bool
    state: dict
    event: dict | None = None
    effects: list[str] = field(default_factory=list)


class Breaker:
    def __init__(
        self, store: ObjectStore, bucket: str, actions: BreakerActions, probation_batches: int = 2
    ):
        self.store, self.bucket, self.actions, self.probation_batches = (
            store,
            bucket,
            actions,
            probation_batches,
        )

    def read(self) -> tuple[dict, str | None]:
        return read_state(self.store, self.bucket)

    def _write(
        self,
        change: Callable[[dict], dict | None],
        cause: dict,
        actor: str,
        attempts: int = 10,
        repair: bool = False,
    ) -> Transition:
        """Apply change(state) -> new state (or None: nothing to do) with a conditional write.

        An UNKNOWN state is changed by nothing but a repair: guessing what it was could
        publish what a lost OPEN state was holding back.
        """
        for _ in range(attempts):
            current, etag = self.read()
            if current["state"] == UNKNOWN and not repair:
                return Transition(False, current, effects=[UNKNOWN_NOTE.format(current["problem"])])
            new = change(dict(current))
            if new is None:
                return Transition(False, current)
            new.update(revision=self._next_revision(current), since=now_iso())
            try:
                self.store.put_json(
                    self.bucket,
                    storage.BREAKER_STATE_KEY,
                    new,
                    if_match=etag,
                    if_none_match=etag is None,
                )
            except PreconditionFailed:
                continue
            return Transition(True, new, self._log(current["state"], new, cause, actor))
        raise MLCycleError(
            f"breaker state kept changing under us; gave up after {attempts} attempts"
        )

    def _log(self, before: str, after: dict, cause: dict, actor: str) -> dict:
        event = {
            "time": after["since"],
            "from": before,
            "to": after["state"],
            "cause": cause,
            "model_version": after.get("model_version"),
            "actor": actor,
            "revision": after["revision"],
        }
        self.store.append_line(self.bucket, storage.BREAKER_EVENTS_KEY, event)
        return event

    def record(self, cause: dict, actor: str) -> Transition:
        """A line in the event log for an operator's decision that changes no state (from and
        to are the current state): the log stays the one account of who decided what."""
        current, _ = self.read()
        # An UNKNOWN state has no revision of its own: the last logged one carries on.
        unchanged = {**current, "since": now_iso(), "revision": self._next_revision(current) - 1}
        return Transition(False, current, self._log(current["state"], unchanged, cause, actor))

    def _next_revision(self, current: dict) -> int:
        if current["state"] != UNKNOWN:
            return int(current["revision"]) + 1
        last = event_log(self.store, self.bucket, last=1)
        return int(last[0].get("revision", 0)) + 1 if last else 1

    def repair(self, reason: str, actor: str) -> Transition:
        """UNKNOWN -> OPEN, by an operator: batches stay held until someone closes explicitly."""
        cause = {"reason": reason or "no reason given", "manual": True, "repair": True}

        def change(state: dict) -> dict | None:
            if state["state"] != UNKNOWN:
                return None
            return {
                **initial_state(),
                "state": OPEN,
                "cause": cause,
                "tripped_at": now_iso(),
                "repaired": state["problem"],
            }

        result = self._write(change, cause, actor, repair=True)
        if result.changed:
            self.actions.disable_inference()
            self.actions.publish_state(OPEN)
            result.effects = ["state repaired as OPEN", "inference rule disabled"]
        return result

    def trip(
        self,
        cause: dict,
        actor: str,
        model_version: str | None = None,
        from_states: tuple[str, ...] = (CLOSED, HALF_OPEN),
    ) -> Transition:
        """CLOSED or HALF_OPEN (or only those of ``from_states``) -> OPEN: stop publishing,
        hold new batches, ask for a retrain."""

        def change(state: dict) -> dict | None:
            if state["state"] not in from_states:
                return None
            return {
                **state,
                "state": OPEN,
                "cause": cause,
                "probation": None,
                "tripped_at": now_iso(),
                "model_version": model_version or state.get("model_version"),
            }

        result = self._write(change, cause, actor)
        if result.changed:
            self.actions.disable_inference()
            self.actions.request_retrain(cause)
            self.actions.publish_state(OPEN)
            result.effects = ["inference rule disabled", "retrain requested"]
        return result

    def model_promoted(self, version: str, actor: str) -> Transition:
        """OPEN -> HALF_OPEN when a retrained model passed the gate.

        Held batches go to probation.
        """

        def change(state: dict) -> dict | None:
            if state["state"] != OPEN:
                return None
            return {
                **state,
                "state": HALF_OPEN,
                "model_version": version,
                "probation": {
                    "model_version": version,
                    "healthy": [],
                    "required": self.probation_batches,
                },
            }

        result = self._write(
            change, {"reason": "retrained model promoted", "version": version}, actor
        )
        if result.changed:
            self.actions.publish_state(HALF_OPEN)
            self.actions.score_held(probation=True)
            result.effects = ["held batches scored on probation"]
        return result

    def probation_report(
        self,
        batch_id: str,
        healthy: bool,
        breaches: list[dict],
        actor: str,
        model_version: str | None = None,
    ) -> Transition:
        """In HALF_OPEN: a breach re-opens and sets the batch aside; the Nth healthy batch closes.

        Only batches judged healthy under the current candidate are published on close;
        a batch that breached stays held with its reason, and is not offered to the next
        candidate (bad input would otherwise re-open the breaker forever).
        """
        current, _ = self.read()
        candidate = (current.get("probation") or {}).get("model_version")
        stale = model_version is not None and model_version != candidate
        if current["state"] != HALF_OPEN or stale or batch_id in (current.get("rejected") or {}):
            return Transition(
                False, current
            )  # a verdict on another model, or a batch already set aside
        if not healthy:
            cause = {"reason": "breach on probation", "batch_id": batch_id, "breaches": breaches}
            self._write(
                lambda s: {**s, "rejected": {**(s.get("rejected") or {}), batch_id: cause}},
                cause,
                actor,
            )
            self.actions.reject_batch(batch_id, cause)
            return self.trip(cause, actor)

        def change(state: dict) -> dict | None:
            if state["state"] != HALF_OPEN:
                return None
            probation = dict(state["probation"])
            probation["healthy"] = sorted(set(probation["healthy"]) | {batch_id})
            if len(probation["healthy"]) < probation["required"]:
                return {**state, "probation": probation}
            return {
                **state,
                "state": CLOSED,
                "probation": {**probation, "closed": True},
                "cause": None,
            }

        result = self._write(
            change, {"reason": "healthy probation batch", "batch_id": batch_id}, actor
        )
        if result.changed and result.state["state"] == CLOSED:
            result.effects = self._close_effects(result.state["probation"]["healthy"])
        return result

    def force(
        self, target: str, reason: str, actor: str, model_version: str | None = None
    ) -> Transition:
        """An operator's open / close, with a reason that lands in the event log."""
        cause = {"reason": reason or "no reason given", "manual": True}
        if target == OPEN:
            return self.trip(cause, actor, model_version)
        if target != CLOSED:
            raise ValueError(f"can force 'open' or 'close', not {target!r}")
        current, _ = self.read()
        healthy = (current.get("probation") or {}).get("healthy", [])
        result = self._write(
            lambda s: (
                None
                if s["state"] == CLOSED
                else {**s, "state": CLOSED, "probation": None, "cause": cause}
            ),
            cause,
            actor,
        )
        if result.changed:
            result.effects = self._close_effects(healthy)
            self.actions.score_held(
                probation=False
            )  # batches held while open are scored and published now
            result.effects.append("held batches scored")
        return result

    def _close_effects(self, healthy: list[str]) -> list[str]:
        released = self.actions.release_probation(healthy)
        self.actions.enable_inference()
        self.actions.publish_state(CLOSED)
        return ["inference rule enabled", f"published {len(released)} probation batch(es)"]
