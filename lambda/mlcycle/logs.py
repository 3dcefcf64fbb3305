"""Structured JSON log lines: one object per line, batch_id and model_version on every one.

CloudWatch Logs Insights (and grep) can then filter a batch's whole story across
functions without parsing prose.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import sys
import types
from collections.abc import Iterator, Mapping

_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "mlcycle_log_context", default=types.MappingProxyType({})
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "batch_id": None,
            "model_version": None,
            **_context.get(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    root = logging.getLogger("mlcycle")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
        root.propagate = False
    return logger


def log(logger: logging.Logger, message: str, level: int = logging.INFO, **fields: object) -> None:
    logger.log(level, message, extra={"fields": fields})


@contextlib.contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Attach fields (batch_id, model_version, ...) to every line logged inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)
