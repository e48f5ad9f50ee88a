"""Mem0 (`mem0ai` 1.0.x, the published two-phase algorithm) over memeval's LLM client.

Granularity: as Mem0's LoCoMo harness, each session is added once per speaker perspective
(`capabilities.ingest = "per-speaker"`: own turns as `user`, the other's as `assistant`, content
"<speaker>: <text>"), `batch` messages per `Memory.add` call (harness default 2; `batch=0` = the
whole session in one call), with the session timestamp as metadata. HaluMem sessions arrive with
user/assistant roles and are added the same way. Every `Memory.add` makes two LLM calls: fact
extraction, then the ADD/UPDATE/DELETE/NONE decision against the top existing memories.

`add` returns Mem0's own events (`{"results": [...]}`) as Memory(event=...).

Offline configuration: llm `openai` (then replaced, see below), embedder `huggingface` on the
local MiniLM (384 dims), vector store `qdrant` in local on-disk mode and the history SQLite under
the run's storage dir, telemetry off. One store per run; namespaces are Mem0 `user_id`s.

Deviations from the paper's setup:
- LLM: whatever `--llm` serves (SmolLM2-135M by default), not GPT-4o-mini. `memory.llm` is
  replaced by a wrapper on memeval's client (attribution, cache, failures), temperature 0.1 and
  max_tokens 2000 as mem0's OpenAI defaults.
- mem0 asks for `json_object`; with `schema=true` (default) the wrapper sends each phase's JSON
  schema instead (`{"facts": [non-empty str]}`; memory entries with non-empty `text` and a
  required `event` enum, as mem0's prompt demands), which llama.cpp enforces by grammar.
  `schema=false` sends a bare object schema (= json_object), the measured-drop setting.
- An LLM outage aborts the add (EndpointDown propagates); an exception Mem0 raises for one batch
  is counted (`add_error`) and the next batch goes on.

Internal failures counted (kind -> n): `<phase>.llm_error|endpoint_down` from the wrapper;
`update.entry_without_event` (an entry with text but no valid event, which mem0 skips without a
word); from mem0's own log lines: `facts.parse_error`,
`update.parse_error`, `update.entry_empty_text`, `update.action_error`, `update.empty_response`,
and `mem0.error` for any other error it logs.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

from memeval.adapters.memory.base import FailureCounter
from memeval.adapters.memory.embedder import DIMS, minilm_path
from memeval.adapters.memory.library_env import go_offline, versions
from memeval.adapters.memory.llm_seam import EndpointAbort, LLMSeam, llm_config, strict_json
from memeval.contracts import AddCost, Capabilities, Setting, SystemContext, SystemKind
from memeval.errors import UserError
from memeval.records import Memory, Session

FACTS_SCHEMA = {"type": "object", "required": ["facts"],
                "properties": {"facts": {"type": "array",
                                         "items": {"type": "string", "minLength": 1}}}}
EVENTS = ("ADD", "UPDATE", "DELETE", "NONE")
UPDATE_SCHEMA = {"type": "object", "required": ["memory"], "properties": {"memory": {
    "type": "array", "items": {"type": "object", "required": ["id", "text", "event"],
                               "properties": {"id": {"type": "string"},
                                              "text": {"type": "string", "minLength": 1},
                                              "event": {"type": "string", "enum": list(EVENTS)},
                                              "old_memory": {"type": "string"}}}}}}
# mem0's log lines that mean something was dropped or failed (prefix -> kind).
LOG_KINDS = (("Error in new_retrieved_facts", "facts.parse_error"),
             ("Invalid JSON response", "update.parse_error"),
             ("Skipping memory entry because of empty", "update.entry_empty_text"),
             ("Error processing memory action", "update.action_error"),
             ("Error iterating new_memories_with_actions", "update.action_error"),
             ("Empty response from LLM", "update.empty_response"),
             ("Error in new memory actions response", None))  # counted by the wrapper already

# Mem0 calls are serialized across instances: mem0 logs through module loggers and runs its
# work in pool threads, so only "who holds the lock" says which adapter a log line belongs to.
_CALL_LOCK = threading.RLock()
_ACTIVE: list[FailureCounter] = []


class _LogCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if not _ACTIVE:
            return
        msg = record.getMessage()
        for prefix, kind in LOG_KINDS:
            if msg.startswith(prefix):
                if kind:
                    _ACTIVE[-1].add(kind)
                return
        if record.levelno >= logging.ERROR:
            _ACTIVE[-1].add("mem0.error")


_HANDLER = _LogCounter(level=logging.INFO)


def _attach_log_counter() -> None:
    root = logging.getLogger("mem0")
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    main = logging.getLogger("mem0.memory.main")
    if main.getEffectiveLevel() > logging.INFO:
        main.setLevel(logging.INFO)  # the "Skipping memory entry" drop is logged at INFO


class Mem0LLM:
    """Stands in for `memory.llm` (mem0's OpenAILLM): same `generate_response` signature."""

    def __init__(self, seam: LLMSeam, failures: FailureCounter, *, temperature: float,
                 max_tokens: int, typed: bool):
        self.seam = seam
        self.failures = failures
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.typed = typed
        self.stats = FailureCounter()  # plain counts, not failures

    def generate_response(self, messages: list[dict[str, str]], response_format: Any = None,
                          tools: Any = None, tool_choice: str = "auto", **kw: Any) -> str:
        if tools:
            raise UserError("mem0: tool calls (graph memory) are not supported by this adapter")
        # Phase 1 sends a system prompt + the conversation; phase 2 one user message.
        step = "facts" if any(m.get("role") == "system" for m in messages) else "update"
        schema = None
        if response_format is not None:
            schema = ({"facts": FACTS_SCHEMA, "update": UPDATE_SCHEMA}[step] if self.typed
                      else {"type": "object"})
        res = self.seam.chat(messages, step=step, schema=schema, temperature=self.temperature,
                             max_tokens=self.max_tokens)
        if step == "update":
            self._count_silent_drops(res.text)
        else:
            data = strict_json(res.text, strict=False)
            facts = data.get("facts") if isinstance(data, dict) else None
            self.stats.add("fact_lists")
            if isinstance(facts, list) and not facts:
                self.stats.add("empty_fact_lists")  # not a failure: nothing worth keeping
        return res.text

    def _count_silent_drops(self, text: str) -> None:
        data = strict_json(text, strict=False)  # as mem0 parses it
        entries = data.get("memory", []) if isinstance(data, dict) else []
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and e.get("text") and e.get("event") not in EVENTS:
                self.failures.add("update.entry_without_event")  # mem0 skips it silently


class Mem0System:
    name: ClassVar[str] = "mem0"
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(ingest="per-speaker")
    setting: ClassVar[Setting] = "online-retrieval"

    def __init__(self, ctx: SystemContext, k: int | None = None, batch: int = 2,
                 schema: bool = True, max_tokens: int = 2000, temperature: float = 0.1) -> None:
        if int(batch) < 0:
            raise UserError(f"mem0: batch must be >= 0 (0 = whole session), got {batch}")
        go_offline()
        self.root = ctx.storage_dir / "mem0"
        self.root.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MEM0_DIR", str(self.root / "home"))  # else mem0 writes to ~/.mem0
        from mem0 import Memory as Mem0Memory  # after go_offline: telemetry reads the env once

        self.ctx = ctx
        self.k = k
        self.batch = int(batch)
        self.failures = FailureCounter()
        self.seam = LLMSeam(ctx, self.failures, "mem0", check_json=False)  # mem0 logs those
        self.options = {"k": k, "batch": self.batch, "schema": bool(schema),
                        "max_tokens": int(max_tokens), "temperature": float(temperature)}
        self.config = {
            "llm": {"provider": "openai", "config": {
                "model": ctx.llm.endpoint.model, "openai_base_url": ctx.llm.endpoint.base_url,
                "api_key": "unused: memeval injects its own client",
                "temperature": float(temperature), "max_tokens": int(max_tokens)}},
            "embedder": {"provider": "huggingface", "config": {
                "model": str(minilm_path()), "embedding_dims": DIMS,
                "model_kwargs": {"device": "cpu"}}},
            "vector_store": {"provider": "qdrant", "config": {
                "collection_name": "memeval", "path": str(self.root / "qdrant"),
                "embedding_model_dims": DIMS, "on_disk": True}},
            "history_db_path": str(self.root / "history.db"),
            "version": "v1.1"}
        with _CALL_LOCK:
            self.memory = Mem0Memory.from_config(self.config)
            _attach_log_counter()
        self.memory.llm = Mem0LLM(self.seam, self.failures, temperature=float(temperature),
                                  max_tokens=int(max_tokens), typed=bool(schema))

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        with _CALL_LOCK:
            _ACTIVE.append(self.failures)
            try:
                return fn(*args, **kw)
            except EndpointAbort as e:
                raise e.err from None
            finally:
                _ACTIVE.pop()

    @staticmethod
    def plan_add(session: Session, options: dict[str, Any], stored: float) -> AddCost:
        """For `memeval run --plan`: per `Memory.add` (one per `batch` turns) fact extraction and
        the update decision; mem0 skips the decision when no fact came out, which only a
        measurement knows (earlier runs calibrate it), so this is the upper bound."""
        batch = int(options.get("batch", 2)) or max(1, len(session.turns))
        return AddCost(llm_calls=2 * -(-len(session.turns) // batch))

    def reset(self, ns: str) -> None:
        self._call(self.memory.delete_all, user_id=ns)

    def add(self, ns: str, session: Session) -> list[Memory]:
        msgs = [{"role": t.role or "user",
                 "content": t.text if t.speaker == t.role else f"{t.speaker}: {t.text}"}
                for t in session.turns]
        size = self.batch or max(1, len(msgs))
        out: list[Memory] = []
        for i in range(0, len(msgs), size):
            try:
                res = self._call(self.memory.add, msgs[i:i + size], user_id=ns,
                                 metadata={"timestamp": session.timestamp,
                                           "session": session.session_id})
            except UserError:
                raise
            except Exception:  # one batch lost, counted; the session goes on as Mem0 would
                self.failures.add("add_error")
                continue
            for r in res.get("results", []):
                meta = {"session": session.session_id}
                if r.get("previous_memory") is not None:
                    meta["previous_memory"] = r["previous_memory"]
                out.append(Memory(text=r.get("memory", ""), memory_id=r.get("id"),
                                  event=r.get("event"), timestamp=session.timestamp, meta=meta))
        return out

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        res = self._call(self.memory.search, query, user_id=ns, limit=self.k or k)
        return [Memory(text=r.get("memory", ""), memory_id=r.get("id"), score=r.get("score"),
                       timestamp=(r.get("metadata") or {}).get("timestamp"),
                       meta={"session": (r.get("metadata") or {}).get("session")})
                for r in res.get("results", [])]

    def close(self) -> None:
        with _CALL_LOCK:
            try:
                self.memory.close()
            finally:
                client = getattr(self.memory.vector_store, "client", None)
                if client is not None:
                    client.close()  # releases qdrant's folder lock

    def info(self) -> dict[str, Any]:
        cfg = {k: v for k, v in self.config.items() if k != "llm"}
        cfg["llm"] = {**llm_config(self.ctx), "replaced": "memory.llm -> memeval client"}
        cfg["embedder"] = {"provider": "huggingface", "model": "all-MiniLM-L6-v2 (local path)",
                           "embedding_dims": DIMS}
        return {"options": self.options,
                "library": versions("mem0ai", "qdrant-client", "sentence-transformers"),
                "config": cfg, "internal_failures": self.failures.snapshot(),
                "stats": self.memory.llm.stats.snapshot()}
