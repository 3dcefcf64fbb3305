"""A trained champion shared by a module's tests: training once keeps the suite fast."""

import pytest

from tests.integration.helpers import upload_training


@pytest.fixture
def trained(buckets, s3):
    """Fresh buckets with the sample training data and a champion trained from it."""
    from handlers import train

    upload_training(s3, buckets.data)
    result = train.handler({}, None)
    assert result["status"] == "promoted", result
    return result


class _NoEffects:
    """The breaker's effects outside its state (rule, retrain, metric) are not run in-process."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: []


@pytest.fixture
def breaker_calls(monkeypatch, buckets):
    """What infer asks the breaker function; the state changes as the breaker makes it."""
    import boto3

    import mlcycle.publication_gate as gate
    from mlcycle.breaker.machine import Breaker
    from mlcycle.objectstore import ObjectStore

    calls = []
    breaker = Breaker(ObjectStore(boto3.client("s3")), buckets.monitoring, _NoEffects())

    def invoke(function_env, payload):
        calls.append((function_env, payload))
        cause = {"source": "gate", "batch_id": payload["batch_id"], "rules": payload["rules"]}
        result = breaker.trip(cause, "gate", payload["model_version"])
        return {"state": result.state["state"], "changed": result.changed}

    monkeypatch.setattr(gate, "invoke_sync", invoke)
    return calls


@pytest.fixture
def breaker_asks(trained, monkeypatch):
    """The breaker function answers infer's gate in-process; what it invokes asynchronously
    (retrain, score_held, release) is recorded, not run."""
    import uuid

    import boto3

    import mlcycle.publication_gate as gate
    from handlers import breaker
    from mlcycle.breaker import effects

    rule = f"rescan-{uuid.uuid4().hex[:8]}"
    boto3.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 hour)", State="ENABLED")
    monkeypatch.setenv("INFERENCE_RULE_NAME", rule)
    monkeypatch.setattr(gate, "invoke_sync", lambda env, payload: breaker.handler(payload, None))
    asked: list[dict] = []
    monkeypatch.setattr(effects, "invoke_async", lambda env, payload: asked.append(payload))
    return asked


@pytest.fixture
def self_invokes(monkeypatch):
    """The shard requests the planning invocation sends to its own function."""
    import mlcycle.sharding as sharding

    sent = []
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "mlcycle-infer")
    monkeypatch.setattr(sharding, "invoke_async", lambda env, payload: sent.append(payload))
    return sent
