"""A-Mem (`a-mem` on PyPI, module `agentic_memory`) over memeval's LLM client.

Granularity: one note per turn, as A-Mem's own LoCoMo harness adds them ("Speaker X says: ..."),
with the session timestamp in A-Mem's YYYYMMDDHHMM form. When the pack assigns roles (HaluMem),
one note per user turn (`turns=auto`; `turns=all` / `turns=user` force either).
Each note costs two LLM calls: `analyze_content` (keywords, context, tags) and memory evolution
(`process_memory`: links, neighbours' new context and tags), both through memeval's client.

`add` reports the diff of the namespace's store around the call: new notes as ADD, notes whose
content/context/keywords/tags/links changed (evolution) as UPDATE.

Deviations from the paper's setup, all deliberate:
- LLM: whatever `--llm` serves (SmolLM2-135M by default), not GPT-4o-mini; temperature 1.0 as
  A-Mem's OpenAI controller defaults; `max_tokens` capped (A-Mem sets none) so a looping small
  model ends; the JSON schema requires every property (`strict_schema`) because llama.cpp's
  grammar otherwise lets the model omit them.
- Note ids are deterministic (`<session>#<turn>`) instead of uuid4, so evolution prompts (which
  list neighbour ids) are identical across runs and cacheable.
- Storage: one ChromaDB folder per namespace under the run's storage dir.
- An LLM outage aborts the add (EndpointDown propagates, the run stops and can resume) instead
  of A-Mem storing the note with empty keywords/tags/links; other LLM failures are left to
  A-Mem's own handling and counted.
- `evo_threshold` is passed through, but a-mem 0.2.6 only counts evolutions with it (no
  consolidation step runs).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, ClassVar

from memeval.adapters.memory.base import FailureCounter
from memeval.adapters.memory.embedder import minilm_path
from memeval.adapters.memory.library_env import LockedEncoder, go_offline, versions
from memeval.adapters.memory.llm_seam import (EndpointAbort, LLMSeam, llm_config, require_all,
                                              strict_json)
from memeval.adapters.memory.notes import memory_diff, parse_when, slug
from memeval.contracts import AddCost, Capabilities, Setting, SystemContext, SystemKind
from memeval.errors import UserError
from memeval.records import Memory, Session, Turn

FIELDS = ("content", "context", "keywords", "tags", "links")
# Mean tokens per A-Mem call (analyze and evolve together), for `--plan` until a run of amem
# calibrates them: measured on HaluMem's shared user, 2 sessions (19 calls: 14,704 prompt and
# 1,912 completion tokens, SmolLM2-135M)
PLAN_PROMPT_TOKENS = 774.0
PLAN_COMPLETION_TOKENS = 101.0


class AMemLLM:
    """Stands in for `system.llm_controller.llm` (A-Mem's OpenAIController)."""

    def __init__(self, seam: LLMSeam, *, temperature: float, max_tokens: int, strict: bool):
        self.seam = seam
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.strict = strict

    def get_completion(self, prompt: str, response_format: dict[str, Any] | None = None,
                       temperature: float | None = None) -> str:
        schema = ((response_format or {}).get("json_schema") or {}).get("schema")
        props = (schema or {}).get("properties", {})
        step = "analyze" if "keywords" in props else "evolve" if "should_evolve" in props else "llm"
        if schema is not None and self.strict:
            schema = require_all(schema)
        msgs = [{"role": "system", "content": "You must respond with a JSON object."},
                {"role": "user", "content": prompt}]  # as A-Mem's OpenAIController sends them
        res = self.seam.chat(msgs, step=step, schema=schema, max_tokens=self.max_tokens,
                             temperature=self.temperature if temperature is None else temperature)
        return res.text


def selected_turns(session: Session, mode: str) -> list[Turn]:
    """The turns that become notes: user turns when the pack assigns roles (`auto`)."""
    if mode == "auto":
        mode = "user" if any(t.role for t in session.turns) else "all"
    return [t for t in session.turns if mode == "all" or t.role == "user"]


def amem_time(stamp: str | None) -> str | None:
    when = parse_when(stamp)
    return when.strftime("%Y%m%d%H%M") if when else None


def readable(ts: str | None) -> str | None:
    """A-Mem's YYYYMMDDHHMM back into words the answer model can compare with questions."""
    if not ts or len(str(ts)) != 12 or not str(ts).isdigit():
        return str(ts) if ts else None
    s = str(ts)
    months = ("January February March April May June July August September October November "
              "December").split()
    return f"{int(s[6:8])} {months[int(s[4:6]) - 1]} {s[:4]}, {s[8:10]}:{s[10:12]}"


class AMemSystem:
    name: ClassVar[str] = "amem"
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities()  # one note per turn, A-Mem's harness
    setting: ClassVar[Setting] = "online-retrieval"

    def __init__(self, ctx: SystemContext, k: int | None = None, evo_threshold: int = 100,
                 max_tokens: int = 512, temperature: float = 1.0, turns: str = "auto",
                 strict_schema: bool = True) -> None:
        if turns not in ("auto", "all", "user"):
            raise UserError(f"amem: turns must be auto, all or user (got {turns!r})")
        go_offline()
        from agentic_memory.memory_system import AgenticMemorySystem  # after go_offline

        self._cls = AgenticMemorySystem
        self.ctx = ctx
        self.failures = FailureCounter()
        self.seam = LLMSeam(ctx, self.failures, "amem")
        self.k = k
        self.evo_threshold = int(evo_threshold)
        self.turns = turns
        self.llm = AMemLLM(self.seam, temperature=float(temperature), max_tokens=int(max_tokens),
                           strict=bool(strict_schema))
        self.options = {"k": k, "evo_threshold": self.evo_threshold, "max_tokens": int(max_tokens),
                        "temperature": float(temperature), "turns": turns,
                        "strict_schema": bool(strict_schema)}
        self.stores: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # ---- namespaces: one A-Mem (one ChromaDB folder) each ----
    def _lock(self, ns: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(ns, threading.Lock())

    def _new_store(self, ns: str) -> Any:
        # A fresh folder per reset: ChromaDB caches clients per path, so deleting a folder in
        # use breaks it; a leftover from an interrupted run is never reopened.
        path = self.ctx.storage_dir / "amem" / f"{slug(ns)}-{uuid.uuid4().hex[:8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        store = self._cls(model_name=str(minilm_path()), llm_backend="openai",
                          llm_model=self.ctx.llm.endpoint.model, evo_threshold=self.evo_threshold,
                          api_key="unused: memeval injects its own client",
                          storage_path=str(path))
        store.llm_controller.llm = self.llm
        ef = store.retriever.embedding_function
        if not isinstance(ef._model, LockedEncoder):
            ef._model = LockedEncoder(ef._model)
        return store

    def _drop(self, ns: str) -> None:
        old = self.stores.pop(ns, None)
        if old is not None:
            try:
                old.retriever.client.delete_collection("memories")
            except Exception:  # best effort: the folder is abandoned either way
                pass

    def reset(self, ns: str) -> None:
        with self._lock(ns):
            self._drop(ns)
            self.stores[ns] = self._new_store(ns)

    def _store(self, ns: str) -> Any:
        if ns not in self.stores:
            self.stores[ns] = self._new_store(ns)
        return self.stores[ns]

    # ---- protocol ----
    def _selected(self, session: Session) -> list[Turn]:
        return selected_turns(session, self.turns)

    @staticmethod
    def plan_add(session: Session, options: dict[str, Any], stored: float) -> AddCost:
        """For `memeval run --plan`: per note one `analyze_content` call, and one evolution call
        once the store holds a note (A-Mem skips evolution for a namespace's first note). The
        evolution's UPDATEs of neighbours are not predicted (earlier runs calibrate them)."""
        n = len(selected_turns(session, str(options.get("turns", "auto"))))
        calls = 2 * n - (1 if n and stored <= 0 else 0)
        return AddCost(llm_calls=calls, memories=n, prompt_tokens=calls * PLAN_PROMPT_TOKENS,
                       completion_tokens=calls * PLAN_COMPLETION_TOKENS)

    def add(self, ns: str, session: Session) -> list[Memory]:
        with self._lock(ns):
            store = self._store(ns)
            before = snapshot(store)
            when = amem_time(session.timestamp)
            taken = set(before)
            for i, turn in enumerate(self._selected(session)):
                note_id = f"{session.session_id}#{turn.turn_id or i}"
                while note_id in taken:  # the same session added twice without a reset
                    note_id += "+"
                taken.add(note_id)
                try:
                    store.add_note(f"Speaker {turn.speaker} says: {turn.text}", time=when,
                                   id=note_id)
                except EndpointAbort as e:
                    raise e.err from None
            after = snapshot(store)
        return self._report(before, after, session)

    def _report(self, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
                session: Session) -> list[Memory]:
        out = []
        for event, nid in memory_diff(before, after, FIELDS):
            note = after.get(nid) or before[nid]
            if event == "ADD" and not note["keywords"] and note["context"] == "General":
                self.failures.add("note_without_metadata")  # what A-Mem stores when both failed
            meta = {k: note[k] for k in ("keywords", "context", "tags", "links")}
            if event == "UPDATE":
                meta["changed"] = [f for f in FIELDS if note[f] != before[nid][f]]
            if event == "ADD" or "links" in meta.get("changed", []):
                dangling = [x for x in note["links"] if x not in after]  # invented neighbour ids
                if dangling:
                    self.failures.add("dangling_link", len(dangling))
            out.append(Memory(text=note["content"], memory_id=nid, event=event,
                              timestamp=readable(note["timestamp"]) or session.timestamp,
                              meta={**meta, "session": session.session_id}))
        return out

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        with self._lock(ns):
            store = self.stores.get(ns)
            if store is None or store.retriever.count() == 0:
                return []
            hits = store.search(query, self.k or k)  # ids + metadata, no text: read each id
            out = []
            for h in hits:
                note = store.read(h["id"])
                if note is None:
                    continue
                dist = float(h["score"])
                out.append(Memory(text=note.content, memory_id=note.id, score=1.0 - dist,
                                  timestamp=readable(note.timestamp),
                                  meta={"distance": dist, "context": note.context,
                                        "keywords": note.keywords, "tags": note.tags}))
            return out

    def close(self) -> None:
        self.stores.clear()

    def info(self) -> dict[str, Any]:
        return {"options": self.options, "library": versions("a-mem", "chromadb",
                                                             "sentence-transformers"),
                "config": {"embedder": f"all-MiniLM-L6-v2 (local: {minilm_path().name})",
                           "storage": "ChromaDB PersistentClient, one folder per namespace",
                           "granularity": "one note per turn (user turns when roles are set)",
                           "llm": llm_config(self.ctx)},
                "internal_failures": self.failures.snapshot()}


def snapshot(store: Any) -> dict[str, dict[str, Any]]:
    """Every note of one store as stored in ChromaDB (not A-Mem's cache, which reads mutate)."""
    got = store.retriever.collection.get(include=["metadatas"])
    out = {}
    for nid, md in zip(got["ids"], got["metadatas"]):
        out[nid] = {"content": md.get("content", ""), "context": md.get("context", "General"),
                    "keywords": _list(md.get("keywords")), "tags": _list(md.get("tags")),
                    "links": _list(md.get("links")), "timestamp": md.get("timestamp")}
    return out


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    parsed = strict_json(value) if isinstance(value, str) else None
    return parsed if isinstance(parsed, list) else []
