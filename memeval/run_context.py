"""What a task's protocol gets from the runner (memeval.contracts.TaskContext): the LLM, the audit
log, limits, and helpers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from memeval.audit import read_events
from memeval.redact import redact
from memeval.records import Memory

T = TypeVar("T")

_EVENT_KIND = {"ADD": "memory.write", "UPDATE": "memory.update", "DELETE": "memory.delete"}
MemoryKey = tuple[str, str, str, str]  # kind, actor, namespace, text


def logged_memory_events(audit_path: Path) -> Counter[MemoryKey]:
    """The memory events earlier stretches of a run logged. A resumed run rebuilds a system's
    store by adding again what it had added (replies come from the response cache); those writes
    are logged again, marked `replayed`, so counting the log's writes does not count them twice.
    A count per key: a new write of an already logged text beyond the replay stays first-hand.
    Memory ids are no key: Mem0 draws a fresh uuid for the same memory."""
    if not audit_path.exists():
        return Counter()
    return Counter((ev.kind, ev.actor, str(ev.payload.get("ns")), str(ev.payload.get("text")))
                   for ev in read_events(audit_path) if ev.kind in _EVENT_KIND.values())


@dataclass
class RunContext:
    llm: Any  # memeval.llm.LLMClient (None for tasks that never call an LLM)
    seed: int = 0
    concurrency: int = 1
    audit: Any = None  # memeval.audit.AuditLog
    system_name: str = ""
    judge: str | None = None  # None = no judge metrics; "llm" / "exact" where a pack offers them
    options: dict[str, Any] = field(default_factory=dict)
    run_dir: Any = None  # pathlib.Path of the run folder: packs write plots and artefacts here
    progress: Any = None  # memeval.progress display of the runner, while samples are generated
    # what logged_memory_events found (a resumed run): those writes are marked as replays
    earlier_memory_events: Counter[MemoryKey] = field(default_factory=Counter)

    def phase(self, label: str, total: int) -> Callable[[], None]:
        """A progress line for a long step inside a group that yields no prediction yet (e.g.
        ingesting a conversation); returns `advance`, and the line goes when it is complete."""
        prog = self.progress
        if prog is None:
            return lambda: None
        tid = prog.add_task(label, total=total)
        done = 0

        def advance() -> None:
            nonlocal done
            done += 1
            prog.advance(tid)
            if done >= total:
                prog.remove_task(tid)
        return advance

    async def call_system(self, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
        """Run a (synchronous) system method in a worker thread; returns (result, seconds)."""
        t0 = time.perf_counter()
        out = await asyncio.to_thread(fn, *args)
        return out, time.perf_counter() - t0

    def log_memories(self, ns: str, memories: list[Memory]) -> None:
        """Audit every write/update/delete the system reported."""
        if self.audit is None:
            return
        actor = f"system:{self.system_name}"
        for m in memories:
            kind = _EVENT_KIND.get((m.event or "ADD").upper())
            if kind:
                self.emit(kind, actor, {"ns": ns, "memory_id": m.memory_id, "text": m.text})

    def emit(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        """Append one event; a memory event an earlier stretch of the run logged is marked
        `replayed`. Executors whose workers record events append them through here, so the
        marking happens once, on the one writer."""
        if kind in _EVENT_KIND.values():
            logged_text = str(redact(payload.get("text"), self.audit.secrets))  # as logged
            key = (kind, actor, str(payload.get("ns")), logged_text)
            if self.earlier_memory_events[key] > 0:
                self.earlier_memory_events[key] -= 1
                payload = {**payload, "replayed": True}
        self.audit.emit(kind, actor, payload)
