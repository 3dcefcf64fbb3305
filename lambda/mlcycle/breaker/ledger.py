"""The breaker state's one writer: every change is a conditional write on the ETag that was
read (two writers never both win: the loser re-reads and decides again), and appends one
line to breaker/events.jsonl, the one account of who decided what."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlcycle import storage
from mlcycle.breaker.state import UNKNOWN, event_log, read_state
from mlcycle.clock import now_iso
from mlcycle.errors import MLCycleError
from mlcycle.objectstore import ObjectStore, PreconditionFailed

UNKNOWN_NOTE = (
    "breaker state unknown ({}): nothing changed; an operator repairs it with "
    '{{"action": "repair", "reason": "..."}}'
)


@dataclass
class Transition:
    changed: bool
    state: dict
    event: dict | None = None
    effects: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self, store: ObjectStore, bucket: str):
        self.store, self.bucket = store, bucket

    def read(self) -> tuple[dict, str | None]:
        return read_state(self.store, self.bucket)

    def _write(
        self,
        change: Callable[[dict], dict | None],
        cause: dict,
        actor: str,
        attempts: int = 10,
        repair: bool = False,
        details: dict | None = None,
    ) -> Transition:
        """Apply change(state) -> new state (or None: nothing to do) with a conditional write;
        ``details`` (which change() may fill in) join the event log line.

        An UNKNOWN state is changed by nothing but a repair: guessing what it was could
        publish what a lost OPEN state was holding back.
        """
        for _ in range(attempts):
            current, etag = self.read()
            if current["state"] == UNKNOWN and not repair:
                return Transition(False, current, effects=[UNKNOWN_NOTE.format(current["problem"])])
            new = change(dict(current))
            if new is None:
                return Transition(False, current)
            new.update(revision=self._next_revision(current), since=now_iso())
            try:
                self.store.put_json(
                    self.bucket,
                    storage.BREAKER_STATE_KEY,
                    new,
                    if_match=etag,
                    if_none_match=etag is None,
                )
            except PreconditionFailed:
                continue
            return Transition(True, new, self._log(current["state"], new, cause, actor, details))
        raise MLCycleError(
            f"breaker state kept changing under us; gave up after {attempts} attempts"
        )

    def _log(
        self, before: str, after: dict, cause: dict, actor: str, details: dict | None = None
    ) -> dict:
        event = {
            "time": after["since"],
            "from": before,
            "to": after["state"],
            "cause": cause,
            "model_version": after.get("model_version"),
            "actor": actor,
            "revision": after["revision"],
            **(details or {}),
        }
        self.store.append_line(self.bucket, storage.BREAKER_EVENTS_KEY, event)
        return event

    def record(self, cause: dict, actor: str) -> Transition:
        """A line in the event log for an operator's decision that changes no state (from and
        to are the current state): the log stays the one account of who decided what."""
        current, _ = self.read()
        # An UNKNOWN state has no revision of its own: the last logged one carries on.
        unchanged = {**current, "since": now_iso(), "revision": self._next_revision(current) - 1}
        return Transition(False, current, self._log(current["state"], unchanged, cause, actor))

    def _next_revision(self, current: dict) -> int:
        if current["state"] != UNKNOWN:
            return int(current["revision"]) + 1
        last = event_log(self.store, self.bucket, last=1)
        return int(last[0].get("revision", 0)) + 1 if last else 1
