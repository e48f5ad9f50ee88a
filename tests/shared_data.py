"""The one way tests reach the real data in ../shared (next to the repository root)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_path(rel: str) -> Path:
    """Path of a file under ../shared; a missing file fails the test with a clear message."""
    path = REPO.parent / "shared" / rel
    if not path.exists():
        pytest.fail(f"real test data missing: {path} (expected ../shared/{rel} beside the repo root)")
    return path


LOCOMO = "data/locomo/locomo10.json"
HALUMEM_USER = "data/halumem/HaluMem-Medium-user-4fd09df4.jsonl"
