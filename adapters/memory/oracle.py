"""Oracle memory: stores exactly the gold (non-interference) HaluMem memory points.

A ceiling and a pipeline check: on `halumem-synth` it must give R = 1, FMR = 1 and correct
updates. It cannot read gold from the dialogue, so the task hands it over first with
`provide_gold(ns, points)` (or, once records.Session has a `meta` dict, in
`session.meta["gold_memory_points"]`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from memeval.errors import UserError
from memeval.records import Memory, Session
from memeval.tasks.halumem.schema import MemoryPoint, normalize

# Function words carry no evidence of relevance; without this list every memory "overlaps".
_STOP = frozenset(
    "i me my you your he she his her it its we they them their is are was were be been am do "
    "does did of in on at to for from by with and or but not no what which who whom whose when "
    "where why how that this these those as s has have had now".split())


def _tokens(text: str) -> set[str]:
    # Crude plural/possessive folding ("lives" ~ "live", "Chang's" ~ "Chang") so questions
    # and facts meet; applied to both sides, so it only has to be consistent.
    words = normalize(text.replace("'s ", " ").replace("\u2019s ", " ")).split()
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOP}


@dataclass
class _Entry:
    memory_id: str
    text: str
    seq: int  # last write; later = more recent (tie-break in search)
    timestamp: str | None
    meta: dict[str, Any] = field(default_factory=dict)

    def memory(self, event: str | None = None, score: float | None = None) -> Memory:
        return Memory(text=self.text, memory_id=self.memory_id, event=event, score=score,
                      timestamp=self.timestamp, meta=dict(self.meta))


class OracleMemory:
    """MemorySystem storing the gold points; search = IDF-weighted lexical token overlap,
    ties broken by recency (most recently written first)."""

    name: ClassVar[str] = "oracle"
    version: ClassVar[str] = "1"

    def __init__(self, ctx: Any = None) -> None:
        self._store: dict[str, list[_Entry]] = {}
        self._pending: dict[str, list[MemoryPoint]] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def reset(self, ns: str) -> None:
        with self._lock:
            self._store[ns] = []
            self._pending.pop(ns, None)

    def provide_gold(self, ns: str, points: Sequence[MemoryPoint | dict[str, Any]]) -> None:
        """Gold points of the NEXT session added to `ns` (interference ones are ignored)."""
        parsed = [p if isinstance(p, MemoryPoint) else MemoryPoint.model_validate(p)
                  for p in points]
        with self._lock:
            self._pending[ns] = parsed

    def _gold_for(self, ns: str, session: Session) -> list[MemoryPoint]:
        if ns in self._pending:
            return self._pending.pop(ns)
        meta = getattr(session, "meta", None) or {}
        if "gold_memory_points" in meta:
            return [MemoryPoint.model_validate(p) for p in meta["gold_memory_points"]]
        raise UserError("system 'oracle' needs the gold memory points of each session: only "
                        "the HaluMem task provides them (call provide_gold(ns, points) before "
                        "add); it cannot run on other tasks")

    def add(self, ns: str, session: Session) -> list[Memory]:
        with self._lock:
            gold = self._gold_for(ns, session)
            store = self._store.setdefault(ns, [])
            return [self._apply(ns, store, p) for p in gold if not p.is_interference]

    def _apply(self, ns: str, store: list[_Entry], p: MemoryPoint) -> Memory:
        self._seq += 1
        meta = {"point_index": p.index, "memory_type": p.memory_type}
        if p.updated and p.original_memories:
            olds = {normalize(o) for o in p.original_memories}
            matched = [e for e in store if normalize(e.text) in olds]
            if matched:  # replace the first, drop the other originals: nothing stale remains
                keep = matched[0]
                meta["replaced"] = [e.text for e in matched]
                for e in matched[1:]:
                    store.remove(e)
                keep.text, keep.seq, keep.timestamp, keep.meta = (
                    p.memory_content, self._seq, p.timestamp, meta)
                return keep.memory("UPDATE")
        same = next((e for e in store if normalize(e.text) == normalize(p.memory_content)), None)
        if same is not None:  # already known: still reported, so it counts as extracted
            return same.memory("NONE")
        entry = _Entry(memory_id=f"{ns}:{self._seq}", text=p.memory_content, seq=self._seq,
                       timestamp=p.timestamp, meta=meta)
        store.append(entry)
        return entry.memory("ADD")

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        q = _tokens(query)
        with self._lock:
            entries = self._store.get(ns, [])
            toks = [_tokens(e.text) for e in entries]
            # IDF weights: the user's name is in almost every memory and should not decide.
            df = {w: sum(w in t for t in toks) for w in q}
            idf = {w: math.log((1 + len(toks)) / (1 + d)) + 1.0 for w, d in df.items()}
            scored = [(round(sum(idf[w] for w in q & t), 9), e) for t, e in zip(toks, entries)]
            ranked = sorted((se for se in scored if se[0] > 0),
                            key=lambda se: (-se[0], -se[1].seq))
            return [e.memory(score=float(s)) for s, e in ranked[:k]]

    def dump(self, ns: str) -> list[Memory]:
        with self._lock:
            return [e.memory() for e in self._store.get(ns, [])]

    def close(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        with self._lock:
            sizes = {ns: len(v) for ns, v in self._store.items()}
        return {"options": {"search": "idf-weighted token overlap, ties by recency"},
                "memories": sizes}
