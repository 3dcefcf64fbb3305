"""The breaker function's world on moto's in-process AWS, shared by the breaker's unit tests:
buckets, the inference rule, a CLOSED state, and helpers to call the function and read back
its state and event log."""

from __future__ import annotations

import boto3

from mlcycle import storage
from mlcycle.breaker.handling import handle
from mlcycle.breaker.payloads import parse_breaker_event
from mlcycle.breaker.state import HALF_OPEN, initial_state
from mlcycle.config import ModelConfig
from mlcycle.storage import Buckets

REGION = "eu-west-1"
RULE = "mlcycle-inference-rescan"
BUCKETS = Buckets("data-b", "models-b", "predictions-b", "monitoring-b")


def call(world, payload: dict, cfg: ModelConfig | None = None) -> dict:
    """The breaker function's answer to ``payload`` (with the world's config unless given)."""
    store, _, default = world
    return handle(cfg or default, store, BUCKETS, parse_breaker_event(payload))


def state_of(store) -> tuple[dict, str]:
    doc, etag = store.get_json(BUCKETS.monitoring, storage.BREAKER_STATE_KEY)
    return doc, etag


def log_of(store) -> list[dict]:
    return store.read_lines(BUCKETS.monitoring, storage.BREAKER_EVENTS_KEY)


def rule_state() -> str:
    return boto3.client("events", region_name=REGION).describe_rule(Name=RULE)["State"]


def set_state(store, state: str, **fields) -> None:
    doc = {**initial_state(), "state": state, "revision": 4, **fields}
    if state == HALF_OPEN and "probation" not in fields:
        doc["probation"] = {"model_version": "v0003", "healthy": [], "required": 2}
    store.put_json(BUCKETS.monitoring, storage.BREAKER_STATE_KEY, doc)
