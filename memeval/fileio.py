"""Small file helpers every part of memeval shares: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling and rename it over `path`: a reader (or a killed
    writer) sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def sha256_file(path: Path | str, missing: str | None = None) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks; `missing` is returned for an absent file
    (None: FileNotFoundError)."""
    p = Path(path)
    if missing is not None and not p.exists():
        return missing
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(data: Any) -> str:
    """Hex SHA-256 of the canonical JSON of `data` (sorted keys)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
