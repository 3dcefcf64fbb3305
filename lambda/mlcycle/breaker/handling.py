"""The breaker function's one job: apply an event (alarm, gate, operator, train, monitor) to the
state, with the action that fits its cause.

Broken inputs (integrity rules) are not the model's fault: a gate trip on integrity rules
only holds the batch for corrected inputs (a line in the event log, no transition), and an
integrity alarm after publication opens the breaker without asking for a retrain. Worse
predictions (performance rules) open it and ask for one.
"""

from __future__ import annotations

from mlcycle.breaker import operators
from mlcycle.breaker.causes import HELD_FOR_INPUTS, NO_RETRAIN_FOR_INPUTS, inputs_broken
from mlcycle.breaker.effects import AwsBreakerActions
from mlcycle.breaker.ledger import Transition
from mlcycle.breaker.machine import Breaker
from mlcycle.breaker.operator_payloads import (
    AcceptShift,
    ExtendHold,
    Force,
    Release,
    Repair,
    Rollback,
)
from mlcycle.breaker.payloads import (
    Alarm,
    AlarmNotifications,
    BreakerEvent,
    GateTrip,
    ModelPromoted,
    Status,
)
from mlcycle.breaker.shift import accept_shift
from mlcycle.breaker.state import CLOSED, OPEN, event_log, read_state
from mlcycle.clock import now_iso
from mlcycle.config import ModelConfig
from mlcycle.logs import get_logger, log
from mlcycle.objectstore import ObjectStore
from mlcycle.registry import ModelRegistry
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.breaker.handling")


def _summary(result: Transition) -> dict:
    return {
        "changed": result.changed,
        "state": result.state,
        "event": result.event,
        "effects": result.effects,
    }


def _alarm(breaker: Breaker, alarm: Alarm, champion: str | None) -> Transition:
    inputs = alarm.rule is not None and inputs_broken([alarm.rule])
    return breaker.trip(
        alarm.cause(),
        actor=f"alarm:{alarm.name}",
        model_version=champion,
        no_retrain=NO_RETRAIN_FOR_INPUTS if inputs else None,
    )


def _gate_trip(breaker: Breaker, event: GateTrip) -> Transition:
    if inputs_broken(event.rules):
        result = breaker.record({**event.cause(), "action": HELD_FOR_INPUTS}, actor="gate")
    else:
        # Only a CLOSED breaker was publishing: in HALF_OPEN the batch went to probation and
        # the monitor's verdict on it decides.
        result = breaker.trip(
            event.cause(), actor="gate", model_version=event.model_version, from_states=(CLOSED,)
        )
    log(
        logger,
        "gate trip",
        batch_id=event.batch_id,
        model_version=event.model_version,
        rules=list(event.rules),
        changed=result.changed,
        state=result.state["state"],
    )
    return result


def handle(cfg: ModelConfig, store: ObjectStore, buckets: Buckets, event: BreakerEvent) -> dict:
    if isinstance(event, Status):
        state, _ = read_state(store, buckets.monitoring)
        return {"state": state, "recent_events": event_log(store, buckets.monitoring, last=10)}
    actions = AwsBreakerActions(store, buckets, cfg.name, cfg.retrain_payload)
    breaker = Breaker(
        store,
        buckets.monitoring,
        actions,
        cfg.probation_batches,
        cfg.breaker.max_retrains_per_day,
    )
    registry = ModelRegistry(store, buckets.models, cfg.name)
    if isinstance(event, AlarmNotifications):
        results = []
        for alarm in event.alarms:
            if alarm.state != "ALARM":
                log(logger, "alarm notification ignored", alarm=alarm.name, state=alarm.state)
                continue
            results.append(_alarm(breaker, alarm, registry.champion()))
        return {
            "results": [
                {"changed": r.changed, "state": r.state["state"], "effects": r.effects}
                for r in results
            ]
        }
    if isinstance(event, GateTrip):
        return _summary(_gate_trip(breaker, event))
    if isinstance(event, Rollback):
        return _summary(operators.rollback(breaker, registry, event))
    if isinstance(event, Release):
        return _summary(operators.release(breaker, actions, store, buckets, event))
    if isinstance(event, ExtendHold):
        return _summary(operators.extend_hold(cfg, breaker, store, buckets, event))
    if isinstance(event, AcceptShift):
        since = event.since or now_iso()
        window = accept_shift(store, buckets.monitoring, cfg.name, since, event.actor)
        cause = {"reason": event.reason, "manual": True, "accept_shift": True, "since": since}
        return {
            **_summary(breaker.record(cause, event.actor)),
            "accepted_since": window["accepted_since"],
            "accepted_by": window["accepted_by"],
        }
    if isinstance(event, Repair):
        return _summary(breaker.repair(event.reason, event.actor))
    if isinstance(event, Force):
        target = OPEN if event.target == "open" else CLOSED
        return _summary(breaker.force(target, event.reason, event.actor, registry.champion()))
    if isinstance(event, ModelPromoted):
        if event.version != registry.champion():
            # Anyone able to invoke the breaker could claim a promotion: only the champion the
            # model store names may start probation.
            log(logger, "promotion claim refused", level=30, version=event.version)
            state, _ = read_state(store, buckets.monitoring)
            return _summary(operators.refused(state, f"{event.version} is not the champion"))
        reason = (
            "recovery kept the champion: it goes on probation"
            if event.kept
            else "retrained model promoted"
        )
        return _summary(breaker.model_promoted(event.version, actor=event.actor, reason=reason))
    return _summary(
        breaker.probation_report(
            event.batch_id,
            event.healthy,
            list(event.breaches),
            actor=event.actor,
            model_version=event.model_version,
            labelled=event.labelled,
        )
    )
