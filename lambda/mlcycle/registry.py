"""The model store on S3: immutable versions, verified loading, and race-safe aliases.

Versions are claimed with `IfNoneMatch='*'` (two trainings never get the same number)
and aliases move with `IfMatch` on the ETag read (two promotions never both win: the
loser re-reads the new champion and decides again). A rollback is the same move the other
way: `previous` becomes champion and the demoted champion becomes `previous`, so a
rollback can itself be undone.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import joblib

from mlcycle import signing, storage
from mlcycle.clock import now_iso
from mlcycle.errors import MLCycleError, ModelIntegrityError
from mlcycle.logs import get_logger, log
from mlcycle.objectstore import ObjectStore, PreconditionFailed

VERSION = storage.MODEL_VERSION
logger = get_logger("mlcycle.registry")


@dataclass
class Decision:
    promote: bool
    reason: str
    rollback: bool = False  # the previous champion comes back instead of the offered version
    scores: dict = field(default_factory=dict)  # what the decision compared, for the result
    champion: str | None = None  # set by settle: the champion once the decision is applied


@dataclass(frozen=True)
class Aliases:
    champion: str | None
    previous: str | None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_bytes(model: object) -> bytes:
    """A model file: its pickle, gzip-compressed as it is written (the uncompressed pickle is
    never held whole), which `joblib.load` reads as it reads the files `joblib.dump` wrote
    before. joblib writes each array apart: for the example's booster (hundreds of small
    trees) its file took 90 ms to write and 78 ms to load, this one about a third of each,
    the same size. mtime 0: the same model gives the same bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=3, mtime=0) as file:
        pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
    return out.getvalue()


def _number(version: str) -> int:
    match = VERSION.match(version)
    assert match is not None  # callers pass only names VERSION matched
    return int(match.group(1))


class ModelRegistry:
    def __init__(self, store: ObjectStore, bucket: str, model_name: str):
        self.store, self.bucket, self.name = store, bucket, model_name
        self._loaded: dict[str, object] = {}
        self._verified: dict[str, dict] = {}  # versions are immutable: one check per instance

    def versions(self) -> list[str]:
        found = [
            v
            for v in self.store.list_folders(self.bucket, storage.model_prefix(self.name))
            if VERSION.match(v)
        ]
        return sorted(found, key=_number)

    def register(self, model: object, metadata: dict, attempts: int = 20) -> tuple[str, dict]:
        """Store a new immutable version; returns (version, metadata as stored)."""
        blob = model_bytes(model)
        for _ in range(attempts):
            existing = self.versions()
            number = _number(existing[-1]) + 1 if existing else 1
            version = f"v{number:04d}"
            try:
                # The model file claims the number; metadata follows, so a version without
                # metadata is an interrupted registration and is never loaded.
                self.store.put_bytes(
                    self.bucket,
                    storage.model_file_key(self.name, version),
                    blob,
                    if_none_match=True,
                )
            except PreconditionFailed:
                continue
            stored = {
                **metadata,
                "name": self.name,
                "version": version,
                "model_sha256": sha256_hex(blob),
                "model_bytes": len(blob),
                "registered_at": now_iso(),
            }
            stored[signing.SIGNATURE_FIELD] = signing.sign(self.name, version, stored)
            self.store.put_json(
                self.bucket, storage.metadata_key(self.name, version), stored, if_none_match=True
            )
            return version, stored
        raise MLCycleError(
            f"could not claim a version number for {self.name} after {attempts} attempts"
        )

    def _stored_metadata(self, version: str) -> tuple[dict, str | None]:
        doc, etag = self.store.get_json(self.bucket, storage.metadata_key(self.name, version))
        if doc is None:
            raise MLCycleError(f"model {self.name} has no version {version} (no metadata.json)")
        return doc, etag

    def metadata(self, version: str) -> dict:
        """A version's metadata, after its signature verified (it carries the reference profile
        and the classes the monitor trusts)."""
        if version in self._verified:
            return self._verified[version]
        doc, _ = self._stored_metadata(version)
        try:
            signing.verify(self.name, version, doc)
        except ModelIntegrityError as exc:
            log(logger, "model version refused", level=40, model_version=version, error=str(exc))
            raise
        self._verified[version] = doc
        return doc

    def sign_unsigned(self) -> list[str]:
        """Sign the versions registered before signing existed (once, with the train role):
        each only if its model file still has the sha256 its metadata recorded."""
        signed = []
        for version in self.versions():
            doc, etag = self._stored_metadata(version)
            if signing.SIGNATURE_FIELD in doc:
                continue
            blob = self.store.get_bytes(self.bucket, storage.model_file_key(self.name, version))
            if sha256_hex(blob) != doc.get("model_sha256"):
                raise ModelIntegrityError(
                    f"{storage.model_file_key(self.name, version)} does not match the sha256 "
                    "in its metadata: not signing it"
                )
            doc[signing.SIGNATURE_FIELD] = signing.sign(self.name, version, doc)
            self.store.put_json(
                self.bucket, storage.metadata_key(self.name, version), doc, if_match=etag
            )
            signed.append(version)
        return signed

    def load(self, version: str) -> object:
        """Load a version after verifying its signature and its file's sha256.

        A pickle runs code, so only files training signed are opened.
        """
        if version in self._loaded:
            return self._loaded[version]
        meta = self.metadata(version)
        blob = self.store.get_bytes(self.bucket, storage.model_file_key(self.name, version))
        actual = sha256_hex(blob)
        if actual != meta["model_sha256"]:
            raise ModelIntegrityError(
                f"{storage.model_file_key(self.name, version)}: sha256 {actual} does not match "
                f"metadata {meta['model_sha256']}; refusing to load it"
            )
        model = joblib.load(io.BytesIO(blob))
        self._loaded[version] = model
        return model

    def aliases(self) -> tuple[dict, str | None]:
        doc, etag = self.store.get_json(self.bucket, storage.aliases_key(self.name))
        return doc or {}, etag

    def champion(self) -> str | None:
        return self.aliases()[0].get("champion")

    def promote(
        self,
        version: str,
        decide: Callable[[str | None], Decision],
        actor: str = "training",
        attempts: int = 20,
    ) -> Decision:
        """Make `version` champion if decide(current champion) says so.

        A concurrent update is never lost.
        """
        return self.settle(version, lambda aliases: decide(aliases.champion), actor, attempts)

    def rollback(self, reason: str, actor: str = "operator", attempts: int = 20) -> Decision:
        """Make `previous` the champion again (an operator's action; training rolls back
        through settle, after scoring it)."""

        def back(aliases: Aliases) -> Decision:
            if aliases.previous is None:
                return Decision(False, f"{self.name} has no previous champion to roll back to")
            return Decision(True, reason, rollback=True)

        return self.settle(None, back, actor, attempts)

    def settle(
        self,
        version: str | None,
        decide: Callable[[Aliases], Decision],
        actor: str = "training",
        attempts: int = 20,
    ) -> Decision:
        """Apply decide(aliases as read): keep the champion, make `version` champion, or roll
        back to `previous`. The aliases are written only if unchanged since they were read, so
        the decision always judged the models it replaces; a lost race decides again.
        """
        for _ in range(attempts):
            current, etag = self.aliases()
            champion, previous = current.get("champion"), current.get("previous")
            decision = decide(Aliases(champion, previous))
            if not decision.promote:
                return replace(decision, champion=champion)
            new = previous if decision.rollback else version
            if new is None:
                raise MLCycleError(f"{self.name}: nothing to make champion ({decision.reason})")
            history = (current.get("history") or [])[-49:]
            line = {
                "champion": new,
                "previous": champion,
                "actor": actor,
                "reason": decision.reason,
                "at": now_iso(),
            }
            history.append({**line, "rollback": True} if decision.rollback else line)
            doc = {"champion": new, "previous": champion, "history": history}
            try:
                self.store.put_json(
                    self.bucket,
                    storage.aliases_key(self.name),
                    doc,
                    if_match=etag,
                    if_none_match=etag is None,
                )
                log(logger, "champion changed", model_version=new, previous=champion, actor=actor)
                return replace(decision, champion=new)
            except PreconditionFailed:
                continue
        raise MLCycleError(
            f"aliases of {self.name} kept changing; "
            f"gave up settling {version or 'a rollback'} after {attempts} attempts"
        )
