"""The breaker function's one job: apply an event (alarm, gate, operator, train, monitor) to the
state."""

from __future__ import annotations

from mlcycle import events
from mlcycle.breaker.effects import AwsBreakerActions
from mlcycle.breaker.machine import Breaker, Transition
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


def handle(
    cfg: ModelConfig, store: ObjectStore, buckets: Buckets, event: events.BreakerEvent
) -> dict:
    if isinstance(event, events.Status):
        state, _ = read_state(store, buckets.monitoring)
        return {"state": state, "recent_events": event_log(store, buckets.monitoring, last=10)}
    actions = AwsBreakerActions(store, buckets, cfg.name, cfg.retrain_payload)
    breaker = Breaker(store, buckets.monitoring, actions, cfg.probation_batches)
    champion = ModelRegistry(store, buckets.models, cfg.name).champion
    if isinstance(event, events.AlarmNotifications):
        results = []
        for alarm in event.alarms:
            if alarm.state != "ALARM":
                log(logger, "alarm notification ignored", alarm=alarm.name, state=alarm.state)
                continue
            results.append(
                breaker.trip(alarm.cause(), actor=f"alarm:{alarm.name}", model_version=champion())
            )
        return {
            "results": [
                {"changed": r.changed, "state": r.state["state"], "effects": r.effects}
                for r in results
            ]
        }
    if isinstance(event, events.GateTrip):
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
        return _summary(result)
    if isinstance(event, events.AcceptShift):
        since = event.since or now_iso()
        window = accept_shift(store, buckets.monitoring, cfg.name, since, event.actor)
        cause = {"reason": event.reason, "manual": True, "accept_shift": True, "since": since}
        return {
            **_summary(breaker.record(cause, event.actor)),
            "accepted_since": window["accepted_since"],
            "accepted_by": window["accepted_by"],
        }
    if isinstance(event, events.Repair):
        return _summary(breaker.repair(event.reason, event.actor))
    if isinstance(event, events.Force):
        target = OPEN if event.target == "open" else CLOSED
        return _summary(breaker.force(target, event.reason, event.actor, champion()))
    if isinstance(event, events.ModelPromoted):
        if event.version != champion():
            # Anyone able to invoke the breaker could claim a promotion: only the champion the
            # model store names may start probation.
            log(logger, "promotion claim refused", level=30, version=event.version)
            state, _ = read_state(store, buckets.monitoring)
            return {
                "changed": False,
                "state": state,
                "event": None,
                "effects": [f"refused: {event.version} is not the champion"],
            }
        return _summary(breaker.model_promoted(event.version, actor=event.actor))
    return _summary(
        breaker.probation_report(
            event.batch_id,
            event.healthy,
            list(event.breaches),
            actor=event.actor,
            model_version=event.model_version,
        )
    )
