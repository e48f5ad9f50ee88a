"""Retrieval baselines: conversation turns in chunks, ranked by BM25 or by dense cosine."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from memeval.adapters.memory.base import turn_memory
from memeval.contracts import AddCost, Capabilities, Setting, SystemContext, SystemKind
from memeval.errors import UserError
from memeval.records import Memory, Session

_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class _ChunkedTurns:
    """Common part: groups `chunk` consecutive turns of a session into one retrievable unit."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities()
    setting: ClassVar[Setting] = "online-retrieval"

    def __init__(self, ctx: SystemContext | None = None, k: int | None = None, chunk: int = 1):
        if chunk < 1:
            raise UserError(f"{self.name}: chunk must be >= 1 (got {chunk})")
        self.default_k = k
        self.chunk = chunk
        self.chunks: dict[str, list[Memory]] = {}
        self._index: dict[str, Any] = {}

    @staticmethod
    def plan_add(session: Session, options: dict[str, Any], stored: float) -> AddCost:
        """For `memeval run --plan`: one memory per `chunk` turns, no LLM call."""
        chunk = max(1, int(options.get("chunk", 1)))
        return AddCost(memories=-(-len(session.turns) // chunk))

    def reset(self, ns: str) -> None:
        self.chunks[ns] = []
        self._index.pop(ns, None)

    def add(self, ns: str, session: Session) -> list[Memory]:
        turns = [turn_memory(t, session) for t in session.turns]
        new = []
        for i in range(0, len(turns), self.chunk):
            part = turns[i:i + self.chunk]
            new.append(Memory(text="\n".join(m.text for m in part), memory_id=part[0].memory_id,
                              event="ADD", timestamp=session.timestamp,
                              meta={"session": session.session_id,
                                    "turn_ids": [m.memory_id for m in part]}))
        self.chunks.setdefault(ns, []).extend(new)
        self._index.pop(ns, None)  # rebuilt lazily at the next search
        return new

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        k = self.default_k or k
        docs = self.chunks.get(ns, [])
        if not docs:
            return []
        scores = self._scores(ns, docs, query)
        order = np.argsort(-scores, kind="stable")[:k]  # stable: ties keep chronological order
        return [docs[i].model_copy(update={"score": float(scores[i])}) for i in order]

    def _scores(self, ns: str, docs: list[Memory], query: str) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        self.chunks.clear()
        self._index.clear()

    def info(self) -> dict[str, Any]:
        return {"options": {"k": self.default_k, "chunk": self.chunk}}


class BM25Memory(_ChunkedTurns):
    name: ClassVar[str] = "rag-bm25"

    def _scores(self, ns: str, docs: list[Memory], query: str) -> np.ndarray:
        from rank_bm25 import BM25Okapi

        if ns not in self._index:
            self._index[ns] = BM25Okapi([tokens(d.text) or ["_"] for d in docs])
        return np.asarray(self._index[ns].get_scores(tokens(query)), dtype=float)

    def info(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {**super().info(), "library": {"rank-bm25": version("rank-bm25")}}


class DenseMemory(_ChunkedTurns):
    name: ClassVar[str] = "rag-dense"

    def _scores(self, ns: str, docs: list[Memory], query: str) -> np.ndarray:
        from memeval.adapters.memory.embedder import embed

        if ns not in self._index or len(self._index[ns]) != len(docs):
            self._index[ns] = embed([d.text for d in docs])
        return self._index[ns] @ embed([query])[0]

    def info(self) -> dict[str, Any]:
        from importlib.metadata import version

        from memeval.adapters.memory.embedder import minilm_path

        return {**super().info(), "library": {
            "sentence-transformers": version("sentence-transformers"),
            "embedder": "all-MiniLM-L6-v2", "embedder_path": minilm_path().name}}
