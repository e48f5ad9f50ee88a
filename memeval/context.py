"""What a task's protocol gets from the runner: the LLM, the audit log, limits, and helpers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from memeval.audit import redact
from memeval.records import Memory

T = TypeVar("T")

_EVENT_KIND = {"ADD": "memory.write", "UPDATE": "memory.update", "DELETE": "memory.delete"}
MemoryKey = tuple[str, str, str, str]  # kind, actor, namespace, text


def logged_memory_events(audit_path: Path) -> set[MemoryKey]:
    """The memory events earlier stretches of a run logged. A resumed run rebuilds a system's
    store by adding again what it had added (replies come from the response cache); those writes
    are logged again, marked `replayed`, so counting the log's writes does not count them twice.
    Memory ids are no key: Mem0 draws a fresh uuid for the same memory."""
    keys: set[MemoryKey] = set()
    if not audit_path.exists():
        return keys
    with audit_path.open(encoding="utf-8") as f:
        for line in f:  # the writer checked (and repaired) the chain before we read it
            ev = json.loads(line)
            if ev.get("kind") in _EVENT_KIND.values():
                p = ev.get("payload") or {}
                keys.add((ev["kind"], ev.get("actor", ""), str(p.get("ns")), str(p.get("text"))))
    return keys


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
    earlier_memory_events: set[MemoryKey] = field(default_factory=set)  # see logged_memory_events

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
                payload: dict[str, Any] = {"ns": ns, "memory_id": m.memory_id, "text": m.text}
                logged_text = str(redact(m.text, self.audit.secrets))  # as the log holds it
                if (kind, actor, ns, logged_text) in self.earlier_memory_events:
                    payload["replayed"] = True
                self.audit.emit(kind, actor, payload)


async def fit_to_window(llm: Any, lines: list[str], budget_tokens: int) -> tuple[list[str], int, int]:
    """Keep the newest lines that fit `budget_tokens`; returns (kept, dropped, tokens_used)."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        n = await llm.count_tokens(line) + 1  # +1 for the newline
        if used + n > budget_tokens:
            break
        kept.append(line)
        used += n
    kept.reverse()
    return kept, len(lines) - len(kept), used
