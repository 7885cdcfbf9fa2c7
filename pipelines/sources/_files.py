"""File discovery and bookkeeping shared by the three sources.

A file is identified by its path relative to the drop, its size and the SHA-256 of its bytes. The
bookkeeping of which (path, size, hash) was landed lives in the destination (`_landed_files` in each
raw dataset) and is written only after the data load succeeded, so a failed run never marks a file
as landed: the next run simply lands it again (every resource merges, so that is idempotent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DropFile:
    """One file of the drop and the identity that decides whether it must be (re)landed."""

    path: Path
    relative_path: str
    size: int
    sha256: str

    @property
    def fingerprint(self) -> tuple[int, str]:
        return (self.size, self.sha256)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_hidden(relative: Path) -> bool:
    # CONTRACT 1a: files and folders starting with `_` (e.g. `_manifest.json`) are not data.
    return any(part.startswith("_") or part.startswith(".") for part in relative.parts)


def discover(source_dir: Path, folder: str, patterns: Iterable[str]) -> list[DropFile]:
    """The data files under `source_dir/folder` matching `patterns`, sorted by relative path.

    Sorting fixes the order in which deliveries are read, which decides which copy of a duplicated
    message is stored first.
    """
    base = source_dir / folder
    if not base.is_dir():
        return []
    found: dict[str, DropFile] = {}
    for pattern in patterns:
        for path in base.glob(pattern):
            relative = path.relative_to(source_dir)
            if not path.is_file() or _is_hidden(path.relative_to(base)):
                continue
            key = relative.as_posix()
            found[key] = DropFile(path, key, path.stat().st_size, _sha256(path))
    return [found[key] for key in sorted(found)]


def split_new(
    files: list[DropFile], landed: dict[str, tuple[int, str]]
) -> tuple[list[DropFile], list[DropFile]]:
    """Split files into (to land, to skip): new files and files whose size or hash changed are landed."""
    to_land = [f for f in files if landed.get(f.relative_path) != f.fingerprint]
    to_skip = [f for f in files if landed.get(f.relative_path) == f.fingerprint]
    return to_land, to_skip
