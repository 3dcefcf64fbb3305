"""Reproducible zip archives and the digests Lambda and Terraform compare.

Terraform decides whether to upload a function or layer from
``filebase64sha256(zip)``; Lambda reports the same value as ``CodeSha256``. Both
are a hash of the archive bytes, so the bytes must depend on file contents only:
every entry gets the same timestamp, normalised permissions and a sorted position,
and nothing about the build host (owner, mtime, directory order) leaks in.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date the zip format can store
COMPRESS_LEVEL = 6  # zlib's default: level 9 saves <1% on these files and is 2x slower


@dataclass(frozen=True)
class ZipFacts:
    """One manifest entry: what Terraform hashes and what Lambda's size limit counts."""

    path: str
    sha256: str  # base64, as Lambda's CodeSha256 and Terraform's filebase64sha256
    sha256_hex: str
    bytes: int
    unzipped_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def _entry(arcname: str, source: Path) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
    executable = source.stat().st_mode & 0o111
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.create_system = 3  # unix, so the permission bits above are honoured
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def tree_entries(root: Path, prefix: str = "") -> list[tuple[str, Path]]:
    """(arcname, file) pairs for every file under ``root``, arcnames under ``prefix``."""
    return [
        (prefix + path.relative_to(root).as_posix(), path)
        for path in root.rglob("*")
        if path.is_file()
    ]


def write_zip(target: Path, entries: list[tuple[str, Path]], append: bool = False) -> None:
    """Write ``entries`` sorted by name; ``append`` adds them after existing ones.

    Appending lets a bundled package reuse the cached, already-compressed
    dependency archive instead of deflating 200 MB again on every build.
    """
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate archive names in {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "a" if append else "w", compresslevel=COMPRESS_LEVEL) as zipped:
        clashes = set(names) & set(zipped.namelist())
        if clashes:
            raise ValueError(f"{target} already holds {sorted(clashes)[:5]}")
        for arcname, source in sorted(entries):
            zipped.writestr(_entry(arcname, source), source.read_bytes())


def sha256_file(path: Path) -> bytes:
    """The sha256 digest of a file, read in 1 MiB chunks (a bundled package is ~100 MB).

    Its base64 form is Lambda's ``CodeSha256`` and Terraform's ``filebase64sha256``.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def describe(archive: Path, relative_to: Path) -> ZipFacts:
    """Digest and sizes of ``archive`` for the manifest."""
    digest = sha256_file(archive)
    with zipfile.ZipFile(archive) as zipped:
        unzipped = sum(info.file_size for info in zipped.infolist())
    return ZipFacts(
        path=archive.relative_to(relative_to).as_posix(),
        sha256=base64.b64encode(digest).decode(),
        sha256_hex=digest.hex(),
        bytes=archive.stat().st_size,
        unzipped_bytes=unzipped,
    )
