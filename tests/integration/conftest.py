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


@pytest.fixture
def breaker_calls(monkeypatch):
    """What infer asks the breaker function (no function runs in-process): it answers OPEN."""
    import mlcycle.publication_gate as gate

    calls = []

    def invoke(function_env, payload):
        calls.append((function_env, payload))
        return {"state": "OPEN", "changed": True}

    monkeypatch.setattr(gate, "invoke_sync", invoke)
    return calls
