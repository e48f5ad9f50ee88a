"""Stream HaluMem users from a local JSONL file or from the Hugging Face hub.

A HaluMem-Long user is ~1M tokens on one line, so files are read one line at a time and each
line is validated on its own; nothing holds the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from memeval.errors import UserError, validation_message
from memeval.tasks.halumem.schema import User

HUB_REPO = "IAAR-Shanghai/HaluMem"
HUB_FILES = {"medium": "HaluMem-Medium.jsonl", "long": "HaluMem-Long.jsonl"}


def load_users(path: str | os.PathLike[str], *, limit: int | None = None) -> Iterator[User]:
    """Yield one validated `User` per non-blank line.

    Raises UserError naming the file, the 1-based line and the field path on the first
    malformed line or schema violation (a partial benchmark would be silently wrong).
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: HaluMem data file not found")
    n = 0
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                # Validating straight from bytes avoids a second full copy as Python objects.
                user = User.model_validate_json(raw)
            except ValidationError as e:
                raise UserError(f"{p} line {lineno}: {validation_message(e)}") from None
            yield user
            n += 1
            if limit is not None and n >= limit:
                return


def _how_to_get(variant: str) -> str:
    return (f"download {HUB_FILES[variant]} from https://huggingface.co/datasets/{HUB_REPO} and "
            f"pass --data PATH, or use the offline suite 'halumem-synth'")


def hub_path(variant: str = "medium", *, revision: str | None = None,
             cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Local path of the official file, downloaded through huggingface_hub when online."""
    if variant not in HUB_FILES:
        raise UserError(f"unknown HaluMem variant {variant!r} (valid: {', '.join(HUB_FILES)})")
    try:
        from huggingface_hub import hf_hub_download  # lazy: optional dependency
    except ImportError:
        raise UserError(f"HaluMem from the hub needs the 'huggingface_hub' package, which is not "
                        f"installed; {_how_to_get(variant)}") from None
    try:
        local = hf_hub_download(repo_id=HUB_REPO, filename=HUB_FILES[variant],
                                repo_type="dataset", revision=revision, cache_dir=cache_dir)
    except Exception as e:  # offline, gated, DNS...: all user-fixable
        raise UserError(f"could not get {HUB_FILES[variant]} from the Hugging Face hub "
                        f"({type(e).__name__}: {e}); {_how_to_get(variant)}") from None
    return Path(local)


def iter_hub(variant: str = "medium", *, revision: str | None = None,
             cache_dir: str | os.PathLike[str] | None = None,
             limit: int | None = None) -> Iterator[User]:
    """Stream users of HaluMem-Medium / HaluMem-Long from the hub (downloaded once, cached)."""
    yield from load_users(hub_path(variant, revision=revision, cache_dir=cache_dir), limit=limit)
