"""Asynchronous invocation of another function of the stack, named by an environment variable.

Terraform sets the variable (TRAIN_FUNCTION_NAME, BREAKER_FUNCTION_NAME ...) on every function
that may call another. A missing one is a broken deployment, not a choice: the call raises, so
the invocation fails visibly (Lambda retries it, then its dead-letter queue keeps the event)
instead of silently dropping a retrain request or a probation verdict.
"""

from __future__ import annotations

import json
import os

import boto3

from mlcycle.errors import MLCycleError
from mlcycle.logs import get_logger, log

logger = get_logger("mlcycle.invoke")


class MissingSetting(MLCycleError):
    """An environment variable the deployment must set is not set."""


def setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set (the deployment sets it)")
    return value


def invoke_async(function_env: str, payload: dict) -> None:
    """Invoke the function named by $function_env with InvocationType=Event."""
    function = setting(function_env)
    boto3.client("lambda").invoke(
        FunctionName=function,
        InvocationType="Event",
        Payload=json.dumps(payload, default=str).encode(),
    )
    log(logger, "asynchronous invoke", function=function, payload=payload)
