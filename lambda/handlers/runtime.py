"""What every handler needs, built once per Lambda container and reused on warm starts."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from mlcycle.config import ModelConfig, load_config
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin, load_plugin, model_dir
from mlcycle.storage import Buckets


def config_path() -> Path:
    """The config file the functions load: MODEL_CONFIG names it inside the model folder."""
    return model_dir() / os.environ.get("MODEL_CONFIG", "model_config.yml")


@functools.lru_cache(maxsize=1)
def config() -> ModelConfig:
    return load_config(config_path())


@functools.lru_cache(maxsize=1)
def plugin() -> Plugin:
    return load_plugin(config())


@functools.lru_cache(maxsize=1)
def store() -> ObjectStore:
    return ObjectStore()


def buckets() -> Buckets:
    return Buckets.from_env()


def jsonable(summary: dict) -> dict:
    return json.loads(json.dumps(summary, default=str))
