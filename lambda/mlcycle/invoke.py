"""Invocation of another function of the stack, named by an environment variable.

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


class InvokeFailed(MLCycleError):
    """The called function failed or returned no answer: its work may not have happened."""


def invoke_sync(function_env: str, payload: dict) -> dict:
    """Invoke the function named by $function_env and wait for its answer (RequestResponse).

    Raises InvokeFailed when the function errs: the caller must not act as if it succeeded.
    """
    function = setting(function_env)
    response = boto3.client("lambda").invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps(payload, default=str).encode(),
    )
    body = response["Payload"].read()
    if response.get("FunctionError"):
        raise InvokeFailed(f"{function} failed ({response['FunctionError']}): {body[:500]!r}")
    log(logger, "synchronous invoke", function=function, payload=payload)
    answer = json.loads(body or b"null")
    if not isinstance(answer, dict):
        raise InvokeFailed(f"{function} answered {answer!r}, not an object")
    return answer
