"""`toy-mem`: keeps turns, returns those sharing most words with the query; `forget=true`
drops every second turn (a worse system to compare against)."""

from __future__ import annotations

from typing import Any, ClassVar

from memeval.contracts import Capabilities, Setting, SystemContext, SystemKind
from memeval.records import Memory, Session


class ToyMemory:
    name: ClassVar[str] = "toy-mem"
    version: ClassVar[str] = "0.1"
    kind: ClassVar[SystemKind] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities()
    setting: ClassVar[Setting] = "online-retrieval"

    def __init__(self, ctx: SystemContext | None = None, forget: bool = False) -> None:
        self.forget = forget
        self.store: dict[str, list[str]] = {}

    def reset(self, ns: str) -> None:
        self.store[ns] = []

    def add(self, ns: str, session: Session) -> list[Memory]:
        kept = [t.text for i, t in enumerate(session.turns) if not (self.forget and i % 2)]
        self.store.setdefault(ns, []).extend(kept)
        return [Memory(text=t, event="ADD") for t in kept]

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        q = set(query.split())
        ranked = sorted(self.store.get(ns, []), key=lambda t: -len(q & set(t.split())))
        return [Memory(text=t) for t in ranked[:k] if q & set(t.split()) >= q]

    def close(self) -> None:
        self.store.clear()

    def info(self) -> dict[str, Any]:
        return {"options": {"forget": self.forget}}
