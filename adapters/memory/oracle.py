"""Oracle memory: stores exactly the gold (non-distractor) memories its sessions carry.

A ceiling and a pipeline check: on `halumem-synth` it must give R = 1, FMR = 1 and correct
updates. It cannot read gold from the dialogue, so it declares `accepts_gold` and a task that
has gold hands it over in `session.meta["gold_memories"]` (memeval.records.GoldMemory).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from memeval.metrics.text import normalize_words as normalize
from memeval.contracts import AddCost, Capabilities, Setting, SystemKind
from memeval.errors import UserError
from memeval.records import GoldMemory, Memory, Session

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
    """MemorySystem storing the gold memories; search = IDF-weighted lexical token overlap,
    ties broken by recency (most recently written first)."""

    name: ClassVar[str] = "oracle"
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(accepts_gold=True)
    setting: ClassVar[Setting] = "online-retrieval"

    def __init__(self, ctx: Any = None) -> None:
        self._store: dict[str, list[_Entry]] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def reset(self, ns: str) -> None:
        with self._lock:
            self._store[ns] = []

    @staticmethod
    def _gold(session: Session) -> list[GoldMemory]:
        if "gold_memories" not in session.meta:
            raise UserError("system 'oracle' needs the gold memories of each session "
                            "(session.meta['gold_memories']): only tasks with gold memory "
                            "points (the HaluMem packs) provide them; it cannot run on others")
        return [GoldMemory.model_validate(g) for g in session.meta["gold_memories"]]

    @staticmethod
    def plan_add(session: Session, options: dict[str, Any], stored: float) -> AddCost:
        """For `memeval run --plan`: one reported memory per non-distractor gold point."""
        gold = session.meta.get("gold_memories") or []
        return AddCost(memories=sum(not g.get("distractor") for g in gold))

    def add(self, ns: str, session: Session) -> list[Memory]:
        gold = self._gold(session)
        with self._lock:
            store = self._store.setdefault(ns, [])
            return [self._apply(ns, store, g) for g in gold if not g.distractor]

    def _apply(self, ns: str, store: list[_Entry], g: GoldMemory) -> Memory:
        self._seq += 1
        meta = {"gold_id": g.memory_id, "kind": g.kind}
        if g.replaces:
            olds = {normalize(o) for o in g.replaces}
            matched = [e for e in store if normalize(e.text) in olds]
            if matched:  # replace the first, drop the other originals: nothing stale remains
                keep = matched[0]
                meta["replaced"] = [e.text for e in matched]
                for e in matched[1:]:
                    store.remove(e)
                keep.text, keep.seq, keep.timestamp, keep.meta = (
                    g.text, self._seq, g.timestamp, meta)
                return keep.memory("UPDATE")
        same = next((e for e in store if normalize(e.text) == normalize(g.text)), None)
        if same is not None:  # already known: still reported, so it counts as extracted
            return same.memory("NONE")
        entry = _Entry(memory_id=f"{ns}:{self._seq}", text=g.text, seq=self._seq,
                       timestamp=g.timestamp, meta=meta)
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
