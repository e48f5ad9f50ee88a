"""Baselines without retrieval: no memory at all, and the whole history in the prompt."""

from __future__ import annotations

from typing import Any, ClassVar

from memeval.adapters.memory.base import TurnStore
from memeval.contracts import AddCost, Capabilities, Setting, SystemContext, SystemKind
from memeval.records import Memory, Session


class NoMemory:
    """Stores nothing: the floor every memory system must beat."""

    name: ClassVar[str] = "no-memory"
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    setting: ClassVar[Setting] = "parametric-only"  # the answer model's own knowledge
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, ctx: SystemContext | None = None) -> None:
        pass

    @staticmethod
    def plan_add(session: Session, options: dict[str, Any], stored: float) -> AddCost:
        return AddCost(memories=0)  # for `memeval run --plan`: no LLM, nothing reported

    def reset(self, ns: str) -> None:
        pass

    def add(self, ns: str, session: Session) -> list[Memory]:
        return []

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        return []

    def close(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"options": {}}


class FullContext:
    """Returns the entire history in order; the harness fits it to the model window, newest
    turns kept, and records how much it dropped (`truncated_turns` in each prediction)."""

    name: ClassVar[str] = "full-context"
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    setting: ClassVar[Setting] = "offline-retrieval"  # reads everything
    # the class-level view (`memeval run --plan` reads it without an instance); the instance
    # sets its window from max_context
    capabilities: Capabilities = Capabilities(full_context=True)

    def __init__(self, ctx: SystemContext | None = None, max_context: int | None = None) -> None:
        self.store = TurnStore()
        self.max_context = max_context  # tokens; default: the answer model's whole window
        # tells the harness: fit everything to the window, do not take top-k
        self.capabilities = Capabilities(full_context=True, window_tokens=max_context)

    @staticmethod
    def plan_add(session: Session, options: dict[str, Any], stored: float) -> AddCost:
        return AddCost(memories=len(session.turns))  # every turn, no LLM

    def reset(self, ns: str) -> None:
        self.store.reset(ns)

    def add(self, ns: str, session: Session) -> list[Memory]:
        return self.store.add(ns, session)

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        return list(self.store.notes.get(ns, []))  # k ignored on purpose: everything, in order

    def close(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"options": {"max_context": self.max_context}}
