"""Bookkeeping the library adapters share about their stores: safe namespace names, the
timestamps of LoCoMo and HaluMem sessions, and what an add changed (diff of two snapshots)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def slug(ns: str) -> str:
    """A folder/label-safe namespace name; the hash keeps distinct names distinct."""
    return f"{_SLUG.sub('_', ns)[:48]}-{hashlib.sha256(ns.encode()).hexdigest()[:8]}"


_TIME_FORMATS = ("%I:%M %p on %d %B, %Y",  # LoCoMo: "1:56 pm on 8 May, 2023"
                 "%b %d, %Y, %H:%M:%S")  # HaluMem: "Feb 13, 2029, 10:51:39"


def parse_when(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(stamp.strip(), fmt)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None


def memory_diff(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
                fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """(event, id) for notes created (ADD), changed in any of `fields` (UPDATE), gone (DELETE)."""
    out = [("ADD", i) for i in after if i not in before]
    out += [("UPDATE", i) for i in after if i in before
            and any(after[i].get(f) != before[i].get(f) for f in fields)]
    out += [("DELETE", i) for i in before if i not in after]
    return out
