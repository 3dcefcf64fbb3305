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
