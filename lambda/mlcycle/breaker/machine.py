"""The state machine: CLOSED -> OPEN -> HALF_OPEN -> CLOSED, held in one S3 object.

Every change goes through the `Ledger` (a conditional write, one line in
breaker/events.jsonl). The side effects - disabling the inference rule, asking
for a retrain, releasing probation output - go through `BreakerActions`, so the state
machine itself is testable without AWS.
"""

from __future__ import annotations

from typing import Protocol

from mlcycle.breaker import backoff
from mlcycle.breaker.causes import HELD_FOR_INPUTS, inputs_broken, label_triggered
from mlcycle.breaker.ledger import Ledger, Transition
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN, UNKNOWN, initial_state
from mlcycle.clock import now, now_iso
from mlcycle.objectstore import ObjectStore


class BreakerActions(Protocol):
    def disable_inference(self) -> None: ...
    def enable_inference(self) -> None: ...
    def request_retrain(self, cause: dict) -> None: ...
    def score_held(self, probation: bool) -> None: ...
    def release_probation(self, batch_ids: list[str]) -> list[str]: ...
    def awaiting_verdict(self, batch_id: str) -> bool: ...
    def scored_on_probation(self, version: str) -> list[str]: ...
    def reject_batch(self, batch_id: str, reason: dict) -> None: ...
    def return_to_held(self, batch_id: str, reason: dict) -> None: ...
    def publish_state(self, state: str) -> None: ...


class Breaker(Ledger):
    def __init__(
        self,
        store: ObjectStore,
        bucket: str,
        actions: BreakerActions,
        probation_batches: int = 2,
        max_retrains_per_day: int = 3,
    ):
        super().__init__(store, bucket)
        self.actions = actions
        self.probation_batches, self.max_retrains_per_day = probation_batches, max_retrains_per_day

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
                "incident": _incident(None, cause),
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
        no_retrain: str | None = None,
    ) -> Transition:
        """CLOSED or HALF_OPEN (or only those of ``from_states``) -> OPEN: stop publishing,
        hold new batches, ask for a retrain: unless ``no_retrain`` says why a retrain cannot
        help, or the back-off stops it (the line in the event log says which)."""
        details: dict = {}

        def change(state: dict) -> dict | None:
            if state["state"] not in from_states:
                return None
            requests = state.get("retrain_requests") or []
            if no_retrain is None:
                decision = backoff.decide(requests, self.max_retrains_per_day, now())
                requests, details["retrain"] = decision.requests, decision.as_log()
            else:
                details["retrain"] = {"requested": False, "reason": f"not requested: {no_retrain}"}
            return {
                **state,
                "state": OPEN,
                "cause": cause,
                "probation": None,
                "tripped_at": now_iso(),
                "incident": _incident(state, cause),
                "model_version": model_version or state.get("model_version"),
                "retrain_requests": requests,
            }

        result = self._write(change, cause, actor, details=details)
        if result.changed:
            self.actions.disable_inference()
            retrain = details["retrain"]
            if retrain["requested"]:
                self.actions.request_retrain(cause)
            self.actions.publish_state(OPEN)
            result.effects = [
                "inference rule disabled",
                "retrain requested" if retrain["requested"] else f"retrain {retrain['reason']}",
            ]
        return result

    def model_promoted(
        self, version: str, actor: str, reason: str = "retrained model promoted"
    ) -> Transition:
        """OPEN -> HALF_OPEN when a retrained model passed the gate (or an operator rolled back
        to the previous champion).

        Held batches go to probation. After a label-triggered trip the candidate must be
        confirmed by labels too (``labels_required``): label-free verdicts cannot see the harm
        that opened the breaker, so they alone never close it.
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
                    "labels_required": label_triggered(state.get("cause")),
                    "confirmed": [],
                },
            }

        result = self._write(change, {"reason": reason, "version": version}, actor)
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
        labelled: bool = False,
    ) -> Transition:
        """In HALF_OPEN: a breach re-opens; the Nth healthy batch closes, and when the
        probation needs labels, only once one of them was judged healthy with its labels
        (``labelled``: partial ones count). One, so that a day's wait for labels does not hold
        good batches a day longer; but only batches judged healthy with their labels are
        published then: a label-free verdict often comes first and cannot see the harm that
        opened the breaker (seeds 1 and 2 published batches on one, refuted by the same
        batches' labels minutes later).

        Only those batches are published on close; one whose verdict comes after the close is
        published when healthy (with its labels, when the probation needs them) and otherwise
        breaches as on probation (the close needed N verdicts, not this one's). A
        batch that broke an integrity rule is set aside for corrected inputs and not offered
        to the next candidate (bad input would otherwise re-open the breaker forever); one
        that broke a performance rule showed the candidate's fault: it waits in held/ for
        the next one.
        """
        current, _ = self.read()
        probation = current.get("probation") or {}
        candidate = probation.get("model_version")
        stale = model_version is not None and model_version != candidate
        if stale or batch_id in (current.get("rejected") or {}):
            return Transition(False, current)  # a verdict on another model, or set aside
        if current["state"] == CLOSED and probation.get("closed"):
            # The probation closed before this batch's verdict came: the verdict still
            # decides, so the batch is published only when it is healthy.
            if not self.actions.awaiting_verdict(batch_id):
                return Transition(False, current)  # published: the usual verdicts judge it
            if healthy and probation.get("labels_required") and not labelled:
                return Transition(False, current)  # its labelled verdict decides
            if healthy:
                released = self.actions.release_probation([batch_id])
                return Transition(
                    False, current, effects=[f"published {len(released)} probation batch(es)"]
                )
            return self._breach_on_probation(batch_id, breaches, actor, candidate)
        if current["state"] != HALF_OPEN:
            return Transition(False, current)
        if not healthy:
            return self._breach_on_probation(batch_id, breaches, actor, candidate)

        def change(state: dict) -> dict | None:
            if state["state"] != HALF_OPEN:
                return None
            probation = dict(state["probation"])
            probation["healthy"] = sorted(set(probation["healthy"]) | {batch_id})
            confirmed = set(probation.get("confirmed") or []) | ({batch_id} if labelled else set())
            probation["confirmed"] = sorted(confirmed)
            unconfirmed = probation.get("labels_required") and not confirmed
            if len(probation["healthy"]) < probation["required"] or unconfirmed:
                return {**state, "probation": probation}
            return {
                **state,
                "state": CLOSED,
                "probation": {**probation, "closed": True},
                "cause": None,
                "incident": None,
            }

        result = self._write(
            change,
            {"reason": "healthy probation batch", "batch_id": batch_id, "labelled": labelled},
            actor,
        )
        if result.changed and result.state["state"] == CLOSED:
            result.effects = self._close_effects(_counted(result.state["probation"]))
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
                else {**s, "state": CLOSED, "probation": None, "cause": cause, "incident": None}
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

    def _breach_on_probation(
        self, batch_id: str, breaches: list[dict], actor: str, candidate: str | None
    ) -> Transition:
        cause = {"reason": "breach on probation", "batch_id": batch_id, "breaches": breaches}
        if candidate:
            cause["candidate"] = candidate
        if not inputs_broken(b.get("rule") or "" for b in breaches):
            self.actions.return_to_held(batch_id, cause)
            # Nothing the refuted candidate scored is published: every batch still waiting on
            # it goes back to held/ too, where the next candidate scores it (a stale probation
            # output would keep it from being scored again).
            refuted = {"reason": f"candidate {candidate} refuted by {batch_id} on probation"}
            for other in self.actions.scored_on_probation(candidate) if candidate else []:
                if other != batch_id:
                    self.actions.return_to_held(other, refuted)
            return self.trip(cause, actor)
        # The candidate is not at fault: set the batch aside, stay on probation.
        cause["action"] = HELD_FOR_INPUTS
        rejected = self._write(
            lambda s: {**s, "rejected": {**(s.get("rejected") or {}), batch_id: cause}},
            cause,
            actor,
        )
        self.actions.reject_batch(batch_id, cause)
        return rejected

    def _close_effects(self, healthy: list[str]) -> list[str]:
        released = self.actions.release_probation(healthy)
        self.actions.enable_inference()
        self.actions.publish_state(CLOSED)
        return ["inference rule enabled", f"published {len(released)} probation batch(es)"]


def _incident(state: dict | None, cause: dict) -> dict:
    """The incident a trip belongs to: the one under way (a breach on probation continues it,
    its cause replacing the first), or a new one from this trip. ``labels_since`` is its first
    trip that labels found (None while there is none): a recovery's labels are measured against
    it (`mlcycle.breaker.incident`)."""
    at, state = now().isoformat(), state or {}
    under_way = state.get("incident") if state.get("state") in (OPEN, HALF_OPEN) else None
    if not under_way:
        under_way = {"since": at, "labels_since": None}
    if under_way.get("labels_since") is None and label_triggered(cause):
        return {**under_way, "labels_since": at}
    return under_way


def _counted(probation: dict) -> list[str]:
    """The healthy batches a close publishes: those judged with their labels when the
    probation needs labels, every healthy one otherwise."""
    return probation["confirmed"] if probation.get("labels_required") else probation["healthy"]
