"""MemOS (`MemoryOS` 2.0.33 on PyPI, import `memos`): tree_text memory with the `simple_struct`
mem_reader on MemOS's `postgres` graph DB, served by pgserver (PostgreSQL 16 + pgvector 0.6.2
in a wheel; no Neo4j server installs here), in its own environment (`.venv-systems/memos`,
built on first use by memeval.sysenv: MemoryOS pins openai<2, transformers<5 and
sentence-transformers<5) and driven over JSON lines (memos_worker.py). PostgreSQL's data folder
lies in the run's storage folder; a namespace is a MemOS user name (the graph DB's tenant
column), fresh at each reset; the worker asserts that no search returns another tenant's item.

MemOS's LLM calls go to memeval's endpoint through LLMProxy (cached, counted in the ledger as
`system:memos`; steps `reader`, `search`, `manager`); its embedder is the local MiniLM.

Protocol: HaluMem's MemOS harness (`/product/add` with 20-message batches, `chat_time` per
message; `/product/search` mode "fast"). Each batch goes through the reader (one extraction call
per token window of it) and TreeTextMemory.add, what the server does in sync mode. Ingest is
per speaker (MemOS's LoCoMo harness, as Mem0's): own turns as `user`.

`add` reports the items TreeTextMemory.add stored (checked by reading them back), all ADD:
MemOS 2.0.33's tree add without reorganisation neither merges nor deletes. `search` is
TreeTextMemory.search, MemOS's embedding recall and reranker; no LLM call in fast mode.

Option `memory=general_text`: MemOS's lighter textual memory instead (GeneralTextMemory: one
extraction call per batch, embedded qdrant, one folder per namespace, no PostgreSQL; no
raw-window fallback: a reply without MemOS's JSON raises, counted as `extract.<Exception>`).

Option `schema=true` (a deviation, off by default): the reader's calls also carry the JSON
schema of the reply its prompt describes (at least one memory), which llama.cpp enforces.
MemOS asks in the prompt only, and SmolLM2 then rarely answers in JSON (measured: every reply
of the HaluMem run), so by default what MemOS stores is the raw windows, counted.

Internal failures counted: `read.raw_window` (the reader's reply gave no JSON and MemOS stored
the raw window as one memory: with SmolLM2 most replies; MemOS logs nothing when the reply has
no `{`), `read.empty_memory` (a reply entry without a value: MemOS stores an empty memory),
`read.no_memory` (a batch that stored nothing), `read.<Exception>` (a batch the reader
raised on: skipped), `add.not_stored` (an id add returned that is not in the store: MemOS only
logs a failed insert), `log.<module>.<words>` (what MemOS logged at WARNING or above and carried
on with), from the proxy `<step>.llm_error` / `<step>.endpoint_down`, and `worker.died`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from memeval.adapters.memory.base import FailureCounter
from memeval.adapters.memory.embedder import minilm_path
from memeval.adapters.memory.llm_proxy import LLMProxy
from memeval.adapters.memory.llm_seam import LLMSeam, llm_config
from memeval.adapters.memory.notes import parse_when
from memeval.contracts import Capabilities, Setting, SystemContext, SystemKind
from memeval.errors import UserError
from memeval.adapters.memory.worker_seat import WorkerSeat
from memeval.jsonworker import JsonWorker
from memeval.records import Memory, Session

WORKER = Path(__file__).with_name("memos_worker.py")
REPO = Path(__file__).resolve().parents[2]
# MemoryOS declares the graph DB driver, the chunker and the local embedder as optional
# extras; these are the ones its tree_text + postgres + sentence_transformer path imports
REQUIREMENTS = ("MemoryOS==2.0.33", "pgserver==0.1.4", "psycopg2-binary==2.9.13",
                "chonkie==1.7.0", "sentence-transformers==4.1.0", "transformers==4.57.6",
                "openai==1.109.1", "numpy==2.4.6", "pydantic==2.14.4", "scikit-learn==1.9.1",
                "huggingface_hub==0.36.2", "tokenizers==0.22.2",
                "qdrant-client==1.20.0")  # general_text's vector DB (embedded, on disk)
SEARCH_MODES = ("fast", "fine")
MEMORIES = ("tree_text", "general_text")


class MemOSSystem:
    name: ClassVar[str] = "memos"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "memory"
    setting: ClassVar[Setting] = "online-retrieval"
    capabilities: ClassVar[Capabilities] = Capabilities(ingest="per-speaker")

    def __init__(self, ctx: SystemContext, k: int | None = None, batch: int = 20,
                 search_mode: str = "fast", max_tokens: int = 1024,
                 temperature: float = 0.6, schema: bool | str = False,
                 memory: str = "tree_text") -> None:
        if search_mode not in SEARCH_MODES:
            raise UserError(f"memos: search_mode must be one of {', '.join(SEARCH_MODES)}, "
                            f"got {search_mode!r}")
        if memory not in MEMORIES:
            raise UserError(f"memos: memory must be one of {', '.join(MEMORIES)}, got "
                            f"{memory!r}")
        if int(batch) < 1:
            raise UserError(f"memos: batch must be at least 1 message, got {batch!r}")
        self.ctx = ctx
        self.default_k = int(k) if k else None
        self.batch = int(batch)  # HaluMem's MemOS harness: 20 messages per /product/add
        self.search_mode = search_mode
        self.memory = memory  # general_text: the lighter variant (memos_general.py)
        self.max_tokens = int(max_tokens)  # MemOS's server: 8000, the whole window here
        self.temperature = float(temperature)  # MemOS's server default for its reader
        # schema=true: the reader's calls carry the JSON schema of the reply its prompt asks
        # for (llama.cpp then enforces it); MemOS itself asks in the prompt only
        self.schema = str(schema).lower() in ("1", "true", "yes", "on")
        self.storage = Path(ctx.storage_dir)
        self.storage.mkdir(parents=True, exist_ok=True)
        self.failures = FailureCounter()
        # MemOS asks for JSON in the prompt only (no response_format): without schema=true the
        # seam has nothing to check, and parse failures are counted from what MemOS stored
        # (read.raw_window); with it, also as reader.invalid_json / reader.truncated
        self.proxy = LLMProxy(LLMSeam(ctx, self.failures, "memos"))
        self.python = ensure_memos_env()
        self.seat = WorkerSeat(self._launch, "MemOS worker", self.failures,
                               after=self.proxy.raise_outage)
        self._known: set[str] = set()
        self.seat.start()

    def _launch(self) -> JsonWorker:
        args = {"repo": str(REPO), "storage": str(self.storage / "memos"),
                "embedder": str(minilm_path()), "base_url": self.proxy.base_url("llm"),
                "model": self.ctx.llm.endpoint.model, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "search_mode": self.search_mode,
                "schema": self.schema, "memory": self.memory}
        (self.storage / "memos").mkdir(parents=True, exist_ok=True)
        return JsonWorker(self.python, WORKER, [json.dumps(args)],
                          env={"OMP_NUM_THREADS": "1"}, label="MemOS worker",
                          stderr_path=self.storage / "memos-worker.log")

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.seat.ask(req)

    def _batches(self, session: Session) -> list[list[dict[str, Any]]]:
        msgs = [{"role": t.role or "user", "content": t.text,
                 "chat_time": _iso(t.timestamp) or _iso(session.timestamp) or ""}
                for t in session.turns]
        return [msgs[i:i + self.batch] for i in range(0, len(msgs), self.batch)]

    def reset(self, ns: str) -> None:
        self._ask({"op": "reset", "ns": ns})
        self._known.add(ns)

    def add(self, ns: str, session: Session) -> list[Memory]:
        res = self._ask({"op": "add", "ns": ns, "session_id": session.session_id,
                         "batches": self._batches(session)})
        return [Memory(text=m["memory"], memory_id=m["id"], event="ADD",
                       timestamp=m["chat_time"] or session.timestamp,
                       meta={"session": session.session_id, "batch": m["batch"],
                             "memory_type": m["memory_type"], "key": m["key"],
                             "tags": m["tags"], "raw_window": m["raw"]})
                for m in res["items"]]

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        if ns not in self._known:  # never reset or added here: an empty namespace
            return []
        res = self._ask({"op": "search", "ns": ns, "query": query, "k": self.default_k or k})
        return [Memory(text=h["memory"], memory_id=h["id"], score=h["score"],
                       timestamp=h["chat_time"], meta={"memory_type": h["memory_type"]})
                for h in res["hits"]]

    def info(self) -> dict[str, Any]:
        counts, examples = self.seat.failure_counts()
        return {"library": self.seat.versions or {"MemoryOS": "2.0.33", "pgserver": "0.1.4"},
                "config": {"memory": self.memory, "batch": self.batch, **_backend(self.memory),
                           "search_mode": self.search_mode, "k": self.default_k,
                           "preference_memory": False, "embedder": "all-MiniLM-L6-v2",
                           "max_tokens": self.max_tokens, "temperature": self.temperature,
                           "reader_schema": self.schema,
                           "llm": llm_config(self.ctx), "proxy_calls": self.proxy.calls,
                           "environment": str(self.python.parent.parent)},
                "internal_failures": counts, "failure_examples": examples}

    def close(self) -> None:
        self.seat.close()
        self.proxy.close()


def ensure_memos_env() -> Path:
    from memeval.sysenv import ensure_env

    return ensure_env("memos", REQUIREMENTS, minutes="about 3")


def _backend(memory: str) -> dict[str, Any]:
    if memory == "general_text":
        return {"extractor": "GeneralTextMemory.extract", "vector_db": "qdrant (local, on disk)"}
    return {"mem_reader": "simple_struct (mode fine)", "reorganize": False,
            "graph_db": "postgres (pgserver, unix socket)", "reranker": "cosine_local"}


def _iso(stamp: str | None) -> str | None:
    when = parse_when(stamp)
    return when.isoformat() if when else None
