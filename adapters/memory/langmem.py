"""LangMem (`langmem`): its memory store manager over a LangGraph InMemoryStore and memeval's LLM.

Granularity: as for Mem0 (the Mem0 paper ran LangMem in the same per-speaker harness), each
LoCoMo session is added once per speaker perspective (`capabilities.ingest = "per-speaker"`); one
`create_memory_store_manager(...).invoke` per session with all its messages ("[<date>]
<speaker>: <text>"). HaluMem sessions arrive with user/assistant roles and are added the same way.
Each invoke searches the namespace for related memories (MiniLM embeddings), then one trustcall
extraction call proposes new memories and JSON-patches to existing ones.

`add` reports the diff of the namespace around the call: new items ADD, changed UPDATE, removed
DELETE (LangMem's `invoke` returns only the puts).

Deviations from the paper's setup:
- LLM: whatever `--llm` serves (SmolLM2-135M by default), through `MemevalChatModel`, a LangChain
  chat model on memeval's client (attribution, cache, failure counts). LangMem needs forced tool
  calling (trustcall's `tool_choice="any"`), which llama-cpp-python's server ignores for this
  model (measured: plain text back, no tool call), so tool calls are emulated: the tools are
  described in the system message and the reply is constrained to the JSON schema
  `{"tool_calls": [{"name": <tool>, "arguments": <its schema>}, ...]}` with at most
  `max_calls` (default 8) entries, so a small model that repeats itself still ends the list.
- LangMem puts a fresh uuid4 into every prompt, so its calls never hit the response cache.
- The store is in memory (LangGraph InMemoryStore): nothing is written under the run folder.
- An LLM outage aborts the add (EndpointDown propagates).

Internal failures counted: `<step>.llm_error|endpoint_down|invalid_json|truncated`, and
`no_tool_call` (the reply held no usable tool call, so nothing was extracted).
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, ClassVar

from memeval.adapters.memory.base import FailureCounter
from memeval.adapters.memory.library_env import go_offline, versions
from memeval.adapters.memory.llm_seam import EndpointAbort, LLMSeam, llm_config, strict_json
from memeval.adapters.memory.notes import memory_diff, slug
from memeval.contracts import Capabilities, Setting, SystemContext, SystemKind
from memeval.errors import UserError
from memeval.records import Memory, Session

go_offline()
from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402

TOOL_INSTRUCTIONS = ("You call tools by replying with JSON only: {\"tool_calls\": [{\"name\": "
                     "<tool name>, \"arguments\": {...}}]}, one entry per call. Tools:\n")


def _flatten(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """memeval's client sends plain role/content messages: tool traffic becomes text."""
    out: list[dict[str, str]] = []
    for m in messages:
        role = {"system": "system", "human": "user", "ai": "assistant"}.get(m.type, "user")
        text = m.content if isinstance(m.content, str) else json.dumps(m.content)
        if m.type == "ai" and getattr(m, "tool_calls", None):
            calls = [{"name": c["name"], "arguments": c["args"]} for c in m.tool_calls]
            text = (text + "\n" if text else "") + json.dumps({"tool_calls": calls})
        if m.type == "tool":
            text = f"Tool result: {text}"
        out.append({"role": role, "content": text})
    return out


def calls_schema(tools: list[dict[str, Any]], max_calls: int) -> dict[str, Any]:
    """One JSON schema for "call one or more of these tools"; $defs hoisted to the root, where
    the tools' own "#/$defs/..." references point."""
    defs: dict[str, Any] = {}
    options = []
    for t in tools:
        fn = t["function"]
        params = dict(fn.get("parameters") or {"type": "object", "properties": {}})
        defs.update(params.pop("$defs", {}))
        options.append({"type": "object", "required": ["name", "arguments"],
                        "properties": {"name": {"type": "string", "enum": [fn["name"]]},
                                       "arguments": params}})
    items = options[0] if len(options) == 1 else {"anyOf": options}
    schema: dict[str, Any] = {"type": "object", "required": ["tool_calls"], "properties": {
        "tool_calls": {"type": "array", "minItems": 1, "maxItems": max_calls, "items": items}}}
    if defs:
        schema["$defs"] = defs
    return schema


class MemevalChatModel(BaseChatModel):
    """A LangChain chat model on memeval's client, with JSON-schema tool calling."""

    seam: Any
    failures: Any
    max_tokens: int = 512
    temperature: float = 0.0
    max_calls: int = 8

    @property
    def _llm_type(self) -> str:
        return "memeval"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kw: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools],
                         tool_choice=tool_choice, **kw)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, tools: list[dict[str, Any]] | None = None,
                  tool_choice: Any = None, **kw: Any) -> ChatResult:
        msgs = _flatten(messages)
        if isinstance(tool_choice, str) and tools and tool_choice not in ("any", "auto",
                                                                          "required"):
            tools = [t for t in tools if t["function"]["name"] == tool_choice] or tools
        if not tools:
            res = self.seam.chat(msgs, step="chat", schema=None,
                                 temperature=self.temperature, max_tokens=self.max_tokens)
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=res.text))])
        names = [t["function"]["name"] for t in tools]
        spec = "\n".join(f"- {t['function']['name']}: {t['function'].get('description') or ''}"
                         f"\n  arguments schema: {json.dumps(t['function'].get('parameters'))}"
                         for t in tools)
        system = TOOL_INSTRUCTIONS + spec
        if msgs and msgs[0]["role"] == "system":
            msgs[0] = {"role": "system", "content": f"{msgs[0]['content']}\n\n{system}"}
        else:
            msgs.insert(0, {"role": "system", "content": system})
        step = "repair" if "PatchFunctionErrors" in names else "extract"
        res = self.seam.chat(msgs, step=step, schema=calls_schema(tools, self.max_calls),
                             temperature=self.temperature, max_tokens=self.max_tokens)
        data = strict_json(res.text, strict=False)
        raw = data.get("tool_calls") if isinstance(data, dict) else None
        calls = []
        for i, c in enumerate(raw if isinstance(raw, list) else []):
            if isinstance(c, dict) and c.get("name") in names and isinstance(c.get("arguments"),
                                                                            dict):
                digest = hashlib.sha256(res.text.encode()).hexdigest()[:10]
                calls.append({"name": c["name"], "args": c["arguments"],
                              "id": f"call_{digest}_{i}", "type": "tool_call"})
        if not calls:
            self.failures.add("no_tool_call")
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=res.text))])
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="",
                                                                        tool_calls=calls))])


class LangMemSystem:
    name: ClassVar[str] = "langmem"
    version: ClassVar[str] = "1"
    kind: ClassVar[SystemKind] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(ingest="per-speaker")
    setting: ClassVar[Setting] = "online-retrieval"

    def __init__(self, ctx: SystemContext, k: int | None = None, max_tokens: int = 512,
                 temperature: float = 0.0, query_limit: int = 5,
                 enable_deletes: bool = False, max_calls: int = 8) -> None:
        from langgraph.store.memory import InMemoryStore
        from langmem import create_memory_store_manager

        from memeval.adapters.memory.embedder import DIMS, embed

        self.ctx = ctx
        self.k = k
        self.failures = FailureCounter()
        self.seam = LLMSeam(ctx, self.failures, "langmem", strict_parse=False)
        self.model = MemevalChatModel(seam=self.seam, failures=self.failures,
                                      max_tokens=int(max_tokens), temperature=float(temperature),
                                      max_calls=int(max_calls))
        self.store = InMemoryStore(index={"dims": DIMS,
                                          "embed": lambda texts: embed(list(texts)).tolist()})
        self.manager = create_memory_store_manager(
            self.model, namespace=("memories", "{langgraph_user_id}"), store=self.store,
            query_limit=int(query_limit), enable_deletes=bool(enable_deletes))
        self.options = {"k": k, "max_tokens": int(max_tokens), "temperature": float(temperature),
                        "query_limit": int(query_limit), "enable_deletes": bool(enable_deletes),
                        "max_calls": int(max_calls)}
        self.stamps: dict[tuple[str, str], str | None] = {}  # (ns, key) -> session timestamp
        self._lock = threading.Lock()  # InMemoryStore and the manager are shared by namespaces

    def _space(self, ns: str) -> tuple[str, str]:
        return ("memories", slug(ns))  # LangGraph namespace labels may not contain periods

    def _items(self, ns: str) -> dict[str, dict[str, Any]]:
        items = self.store.search(self._space(ns), limit=1_000_000)
        return {it.key: {"value": it.value} for it in items}

    def reset(self, ns: str) -> None:
        with self._lock:
            for key in self._items(ns):
                self.store.delete(self._space(ns), key)
            self.stamps = {k: v for k, v in self.stamps.items() if k[0] != ns}

    def add(self, ns: str, session: Session) -> list[Memory]:
        stamp = f"[{session.timestamp}] " if session.timestamp else ""
        msgs = [{"role": t.role or "user",
                 "content": stamp + (t.text if t.speaker == t.role else f"{t.speaker}: {t.text}")}
                for t in session.turns]
        with self._lock:
            before = self._items(ns)
            try:
                self.manager.invoke({"messages": msgs},
                                    config={"configurable": {"langgraph_user_id": slug(ns)}})
            except EndpointAbort as e:
                raise e.err from None
            except UserError:
                raise
            except Exception:  # what LangMem/trustcall raised for this session, counted
                self.failures.add("add_error")
            after = self._items(ns)
            out = []
            for event, key in memory_diff(before, after, ("value",)):
                item = after.get(key) or before[key]
                if event == "ADD":
                    self.stamps[(ns, key)] = session.timestamp
                out.append(Memory(text=_text(item["value"]), memory_id=key, event=event,
                                  timestamp=self.stamps.get((ns, key)),
                                  meta={"session": session.session_id}))
        return out

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        with self._lock:
            hits = self.store.search(self._space(ns), query=query, limit=self.k or k)
        return [Memory(text=_text(h.value), memory_id=h.key, score=h.score,
                       timestamp=self.stamps.get((ns, h.key))) for h in hits]

    def close(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"options": self.options,
                "library": versions("langmem", "langgraph", "trustcall", "langchain-core"),
                "config": {"store": "langgraph InMemoryStore (384-dim MiniLM index)",
                           "manager": "create_memory_store_manager, default Memory schema",
                           "tool_calling": "emulated with a JSON schema (see module doc)",
                           "llm": llm_config(self.ctx)},
                "internal_failures": self.failures.snapshot()}


def _text(value: dict[str, Any]) -> str:
    content = value.get("content")
    if isinstance(content, dict) and isinstance(content.get("content"), str):
        return content["content"]  # LangMem's default Memory schema: {"content": str}
    return json.dumps(content if content is not None else value, ensure_ascii=False)
