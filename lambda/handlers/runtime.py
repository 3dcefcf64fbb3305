"""What every handler needs, built once per Lambda container and reused on warm starts."""
from __future__ import annotations

import functools
import json
import os

from mlcycle.config import ModelConfig, load_config
from mlcycle.errors import MLCycleError
from mlcycle.plugin import Plugin, load_plugin, model_dir
from mlcycle.storage import Buckets, ObjectStore


@functools.lru_cache(maxsize=1)
def config() -> ModelConfig:
    return load_config(model_dir() / os.environ.get("MODEL_CONFIG", "model_config.yml"))


@functools.lru_cache(maxsize=1)
def plugin() -> Plugin:
    return load_plugin(config())


@functools.lru_cache(maxsize=1)
def store() -> ObjectStore:
    return ObjectStore()


def buckets() -> Buckets:
    return Buckets.from_env()


def rejected(exc: MLCycleError) -> dict:
    """A refusal the caller should read, not a crash: the handler returns it as its result."""
    detail = exc.as_dict() if hasattr(exc, "as_dict") else {"message": str(exc)}
    return {"status": "rejected", "error": str(exc), "error_type": type(exc).__name__, "reason": detail}


def jsonable(summary: dict) -> dict:
    return json.loads(json.dumps(summary, default=str))
