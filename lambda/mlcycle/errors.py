"""Errors the platform reports to people: each names where the problem is and which rule broke."""

from __future__ import annotations

import json


class MLCycleError(Exception):
    """Base class: anything the platform rejects on purpose (not a bug)."""


class ConfigError(MLCycleError):
    """model_config.yml cannot be used as written."""


class PluginContractError(MLCycleError):
    """The data scientist's train.py / inference.py broke the plug-in contract."""

    def __init__(self, file: str, function: str, expected: str, got: str):
        self.file, self.function, self.expected, self.got = file, function, expected, got
        super().__init__(f"{file}: {function}() must {expected}; got {got}")


class DataContractError(MLCycleError):
    """An input file breaks the data contract; the batch is quarantined with this reason."""

    def __init__(
        self, file: str, column: str | None, rule: str, detail: str, rows: list[int] | None = None
    ):
        self.file, self.column, self.rule, self.detail = file, column, rule, detail
        self.rows = rows or []
        where = f"column '{column}'" if column else "file"
        # Line numbers as an editor shows them: the header is line 1.
        at_rows = f" (lines {', '.join(map(str, self.rows[:5]))})" if self.rows else ""
        super().__init__(f"{file}: {where}: {rule}: {detail}{at_rows}")

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "column": self.column,
            "rule": self.rule,
            "detail": self.detail,
            "lines": self.rows[:20],
            "message": str(self),
        }


class EventError(MLCycleError):
    """An event or payload the function refuses; nothing was changed."""

    def __init__(self, where: str, field: str | None, expected: str, got: object = None):
        self.where, self.field, self.expected = where, field, expected
        at = f"field '{field}'" if field else "payload"
        shown = "" if got is None else f", got {_describe(got)}"
        super().__init__(f"{where}: {at}: expected {expected}{shown}")


def _describe(value: object) -> str:
    text = json.dumps(value, default=str)
    return f"{type(value).__name__} {text[:80]}"


class ModelIntegrityError(MLCycleError):
    """A stored model file does not match the sha256 recorded in its metadata."""


def rejected(exc: MLCycleError) -> dict:
    """A refusal the caller should read, not a crash: a function returns it as its result."""
    detail = exc.as_dict() if isinstance(exc, DataContractError) else {"message": str(exc)}
    return {
        "status": "rejected",
        "error": str(exc),
        "error_type": type(exc).__name__,
        "reason": detail,
    }
