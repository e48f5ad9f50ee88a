"""Small pieces the memory adapters share: a counter of swallowed library failures, and the
turn store of the baselines. (What an adapter receives, `SystemContext`, is a contract:
memeval.contracts.)"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from memeval.records import Memory, Session, Turn


@dataclass
class FailureCounter:
    """Internal failures a library swallowed (counted per namespace, reported in metrics)."""

    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def turn_text(turn: Turn, session: Session) -> str:
    """One turn as a timestamped memory line; the session date is what temporal questions need."""
    stamp = f"[{session.timestamp}] " if session.timestamp else ""
    return f"{stamp}{turn.speaker}: {turn.text}"


def turn_memory(turn: Turn, session: Session, event: str = "ADD") -> Memory:
    return Memory(text=turn_text(turn, session), memory_id=turn.turn_id, event=event,
                  timestamp=session.timestamp, meta={"session": session.session_id})


class TurnStore:
    """Per-namespace chronological list of turn memories (shared by the baselines)."""

    def __init__(self) -> None:
        self.notes: dict[str, list[Memory]] = {}

    def reset(self, ns: str) -> None:
        self.notes[ns] = []

    def add(self, ns: str, session: Session) -> list[Memory]:
        new = [turn_memory(t, session) for t in session.turns]
        self.notes.setdefault(ns, []).extend(new)
        return new
