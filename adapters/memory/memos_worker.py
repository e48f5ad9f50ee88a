"""MemOS (MemoryOS 2.0.33) tree_text memory on PostgreSQL + pgvector (pgserver) in its own
environment; memeval.adapters.memory.memos drives this file over JSON lines (memeval.jsonworker).

One PostgreSQL server (pgserver's bundled PostgreSQL 16 + pgvector, over its unix socket) with
its data folder in the run's storage; MemOS's `postgres` graph DB keeps every namespace in one
table, separated by its `user_name` column (MemOS's own multi-tenant field). A namespace is a
MemOS user name, fresh at every reset (the map ns -> user name survives a worker restart).

add = what MemOS's /product/add does for a chat in sync mode, in process: the `simple_struct`
mem_reader reads each batch of messages (LLM extraction per token window, mode "fine") and
TreeTextMemory.add writes the items to the graph DB. search = TreeTextMemory.search (mode
"fast": embedding recall over the graph DB, MemOS's cosine reranker; no LLM call).

`memory` "general_text" (the lighter variant) uses memos_general.py instead: GeneralTextMemory
on one embedded qdrant folder per tenant, no PostgreSQL.

Requests: reset {ns}; add {ns, session_id, batches: [[{role, content, chat_time}]]} -> the items
MemOS stored ({id, memory, memory_type, key, tags, raw, chat_time}); search {ns, query, k};
info -> counted failures, an example message of each, the tenant count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

ARGS = json.loads(sys.argv[1])
STORAGE = Path(ARGS["storage"])
for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false",
                   # MemOS writes .memos/logs under this folder: inside the run folder
                   "MEMOS_BASE_PATH": str(STORAGE)}.items():
    os.environ.setdefault(key, value)
# memos.log calls load_dotenv() at import: a .env in the working folder would configure MemOS
# behind memeval's back, so the worker works in its storage folder
os.chdir(STORAGE)
_spec = __import__("importlib").util.spec_from_file_location(
    "memeval_worker_child", f"{ARGS['repo']}/memeval/worker_child.py")
wc = __import__("importlib").util.module_from_spec(_spec)
_spec.loader.exec_module(wc)
PROTO = wc.claim_stdout()

import pgserver  # noqa: E402
from memos.configs.mem_reader import SimpleStructMemReaderConfig  # noqa: E402
from memos.configs.memory import TreeTextMemoryConfig  # noqa: E402
from memos.mem_reader.simple_struct import SimpleStructMemReader  # noqa: E402
from memos.memories.textual.tree import TreeTextMemory  # noqa: E402

failures: dict[str, int] = {}
logged: dict[str, str] = {}  # kind -> one message, for what MemOS logged and carried on with
TENANTS = STORAGE / "memos-tenants.json"  # ns -> MemOS user name, across worker restarts
tenants: dict[str, str] = json.loads(TENANTS.read_text()) if TENANTS.is_file() else {}


def count(kind: str, n: int = 1, example: str | None = None) -> None:
    if n:
        failures[kind] = failures.get(kind, 0) + n
        if example:
            logged.setdefault(kind, example[:300])


class SwallowedLog(logging.Handler):
    """MemOS logs and carries on where a step failed (an LLM call that raised, JSON it could not
    decode, a batch insert that failed, a reranker error): each WARNING-or-worse record is
    counted as `log.<module>.<words>`. Attached after start-up and paused while a store is
    built, so configuration notices (a missing optional text splitter, qdrant's local mode)
    are not counted."""

    paused = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.paused:
            return
        words = re.sub(r"[^a-z ]+", " ", str(record.msg).lower())
        slug = "_".join(words.split()[:4]) or "message"
        count(f"log.{record.name.rsplit('.', 1)[-1]}.{slug}", example=record.getMessage())


# The reply structure the simple_struct chat prompt asks for (its "Return a single valid JSON
# object" block), as a JSON schema: sent only with the adapter's `schema=true`. At least one
# memory: the prompt asks for every memory of the window, and without the bound SmolLM2 answers
# `{"memory list": [], "summary": ""}` (measured)
READER_SCHEMA = {"type": "object", "required": ["memory list", "summary"], "properties": {
    "memory list": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["key", "memory_type", "value", "tags"], "properties": {
            "key": {"type": "string"},
            "memory_type": {"type": "string", "enum": ["LongTermMemory", "UserMemory"]},
            "value": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}}}},
    "summary": {"type": "string"}}}


@contextlib.contextmanager
def building() -> Any:
    # requests are served one at a time, so nothing else logs while a store is built
    SwallowedLog.paused = True
    try:
        yield
    finally:
        SwallowedLog.paused = False


def _llm(step: str, schema: dict | None = None) -> dict[str, Any]:
    # MemOS's openai backend on memeval's endpoint (the adapter's LLMProxy); the step is the
    # first path segment, so the proxy counts failures as `<step>.<kind>`. MemOS sends no
    # response_format; `extra_body` (merged into the request by the openai client) adds one
    # in llama.cpp's grammar-enforced form, which the proxy passes on and checks
    extra = {"response_format": {"type": "json_object", "schema": schema}} if schema else None
    return {"backend": "openai", "config": {
        "model_name_or_path": ARGS["model"], "api_key": "memeval",
        "api_base": ARGS["base_url"].replace("/llm/v1", f"/{step}/v1"),
        "temperature": float(ARGS["temperature"]), "max_tokens": int(ARGS["max_tokens"]),
        "top_p": 0.95, "remove_think_prefix": True, "extra_body": extra}}


def start_postgres() -> Any:
    """pgserver's PostgreSQL on the storage folder. cleanup_mode None: this worker stops it at
    exit itself (pgserver's own handle count keeps the pid of a killed worker and would then
    never stop it); a server a killed worker left running is reused."""
    server = pgserver.get_server(STORAGE / "pgdata", cleanup_mode=None)
    import psycopg2

    info = server.get_postmaster_info()
    with psycopg2.connect(host=str(info.socket_dir), port=int(info.port or 5432),
                          user="postgres", dbname="postgres") as conn, conn.cursor() as cur:
        # MemOS 2.0.33 creates an ivfflat index (lists = 100) on the empty table; with
        # pgvector's default of probing 1 list, a search then sees only the rows of the one
        # list nearest the query (measured: 0 or 1 of 62 memories). Probing all 100 lists
        # for every connection of this database makes the index search exhaustive (exact)
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cur.execute("ALTER DATABASE postgres SET ivfflat.probes = 100")
    conn.close()
    return server


EMBEDDER = {"backend": "sentence_transformer",
            "config": {"model_name_or_path": ARGS["embedder"], "trust_remote_code": False}}


def build(pg: Any) -> tuple[TreeTextMemory, SimpleStructMemReader]:
    info = pg.get_postmaster_info()
    embedder = EMBEDDER
    graph_db = {"backend": "postgres", "config": {
        "host": str(info.socket_dir), "port": int(info.port or 5432), "user": "postgres",
        "password": "", "db_name": "postgres", "schema_name": "memos",
        # the config needs a default tenant; every call below names its own
        "user_name": "memeval-default", "embedding_dimension": 384, "maxconn": 8}}
    tree = TreeTextMemory(TreeTextMemoryConfig.model_validate({
        "extractor_llm": _llm("manager"), "dispatcher_llm": _llm("search"),
        "embedder": embedder, "graph_db": graph_db, "reorganize": False,
        # MemOS's server defaults (api/config.py get_default_cube_config)
        "memory_size": {"WorkingMemory": 20, "LongTermMemory": 1000000, "UserMemory": 1000000},
        "search_strategy": {"fast_graph": False, "bm25": False, "cot": False,
                            "fulltext": False},
        # include_embedding stays off (the server's default too), so the cosine_local reranker
        # has no vectors and gives each hit MemOS's fallback score 0.5 in recall order: on,
        # 2.0.33's postgres backend hands the vector back as a string and search raises
        "mode": "sync"}))
    reader = SimpleStructMemReader(SimpleStructMemReaderConfig.model_validate({
        "llm": _llm("reader", SCHEMA), "embedder": embedder,
        # the chunker reads documents only (never chats); "character" needs no tokenizer
        # download (MemOS's server: gpt2)
        "chunker": {"backend": "sentence", "config": {
            "tokenizer_or_token_counter": "character", "chunk_size": 512,
            "chunk_overlap": 128, "min_sentences_per_chunk": 1, "save_rawfile": False}}}))
    return tree, reader


SCHEMA = READER_SCHEMA if ARGS["schema"] else None
if ARGS["memory"] == "general_text":  # the lighter variant: qdrant folders, no PostgreSQL
    GENERAL = wc.load_by_path("memeval_memos_general", str(
        Path(__file__).with_name("memos_general.py"))).GeneralStore(
            STORAGE / "qdrant", _llm("extract", SCHEMA), EMBEDDER, count, building)
    PG = TREE = READER = None
else:
    GENERAL = None
    PG = start_postgres()
    TREE, READER = build(PG)
logging.getLogger("memos").addHandler(SwallowedLog(level=logging.WARNING))


def _stem(ns: str) -> str:
    return "ns_" + hashlib.sha1(ns.encode()).hexdigest()[:12] + "_"


def reset(ns: str) -> dict:
    # a fresh MemOS user name per reset isolates the namespace's old memories without deleting
    # them (a resumed run re-adds into a new tenant)
    tenants[ns] = _stem(ns) + uuid.uuid4().hex[:8]
    TENANTS.write_text(json.dumps(tenants))
    return {"user_name": tenants[ns]}


def _tenant(ns: str) -> str:
    if ns not in tenants:
        reset(ns)
    return tenants[ns]


def is_raw_window(item: Any) -> bool:
    """The item MemOS 2.0.33 stores when the reader's LLM reply gave no JSON (simple_struct
    `_get_llm_response`): the whole window as one UserMemory whose summary (background) is the
    window itself and whose key is its first 10 characters. MemOS logs nothing when the reply
    has no `{` at all, so this shape, not the log, is what counts it."""
    md = item.metadata
    return bool(item.memory) and md.background == item.memory and md.key == item.memory[:10]


def _chat_time(item: Any) -> str | None:
    for src in item.metadata.sources or []:
        when = getattr(src, "chat_time", None) or (src.get("chat_time") if isinstance(src, dict)
                                                   else None)
        if when:
            return str(when)
    return None


def _item(item: Any, batch: int) -> dict:
    md = item.metadata
    return {"id": item.id, "memory": item.memory, "memory_type": md.memory_type,
            "key": md.key, "tags": list(md.tags or []), "raw": is_raw_window(item),
            "chat_time": _chat_time(item), "batch": batch}


def add(req: dict) -> dict:
    tenant, out = _tenant(req["ns"]), []
    if GENERAL is not None:
        return {"items": GENERAL.add(tenant, req["batches"])}
    info = {"user_id": tenant, "session_id": req["session_id"]}
    for b, batch in enumerate(req["batches"]):
        try:
            groups = READER.get_memory([batch], type="chat", info=dict(info), mode="fine",
                                       user_name=tenant)
        except Exception as e:  # noqa: BLE001 - counted; the session goes on
            count(f"read.{type(e).__name__}", example=str(e))
            continue
        items = [m for group in groups for m in group]
        if not items:
            count("read.no_memory")  # a batch that left nothing: nothing searchable from it
            continue
        raw = sum(is_raw_window(m) for m in items)
        count("read.raw_window", raw, example="the reader's reply gave no JSON: MemOS stored "
              "the raw window as one memory")
        # an entry of the reply with no `value`: MemOS stores a memory with empty text
        count("read.empty_memory", sum(not (m.memory or "").strip() for m in items))
        ids = TREE.add(items, user_name=tenant)
        stored = {n["id"] if isinstance(n, dict) else n.id
                  for n in TREE.get_by_ids(ids, user_name=tenant)} if ids else set()
        # TreeTextMemory.add returns the ids it tried; a failed batch insert is only logged
        count("add.not_stored", len(set(ids) - stored))
        out += [_item(m, b) for m in items if m.id in stored]
    return {"items": out}


def search(req: dict) -> dict:
    tenant = _tenant(req["ns"])
    if GENERAL is not None:  # one qdrant folder per tenant: isolated by construction
        return {"hits": GENERAL.search(tenant, req["query"], int(req["k"]))}
    hits = TREE.search(req["query"], top_k=int(req["k"]),
                       info={"user_id": tenant, "session_id": ""}, mode=ARGS["search_mode"],
                       memory_type="All", user_name=tenant)
    foreign = [h for h in hits if h.metadata.user_id != tenant]
    if foreign:  # isolation is asserted, not assumed
        raise RuntimeError(f"MemOS search for {tenant} returned {len(foreign)} memories of "
                           f"another user")
    return {"hits": [{"id": h.id, "memory": h.memory, "memory_type": h.metadata.memory_type,
                      "score": getattr(h.metadata, "relativity", None),
                      "chat_time": _chat_time(h)} for h in hits]}


def handle(req: dict) -> dict:
    op = req["op"]
    if op == "reset":
        return reset(req["ns"])
    if op == "add":
        return add(req)
    if op == "search":
        return search(req)
    if op == "info":
        return {"failures": dict(failures), "examples": dict(logged), "tenants": len(tenants)}
    raise ValueError(f"unknown op {op!r}")


def server_versions() -> dict[str, str]:
    import psycopg2

    if PG is None:
        return {"qdrant-client": metadata.version("qdrant-client")}
    info = PG.get_postmaster_info()
    with psycopg2.connect(host=str(info.socket_dir), port=int(info.port or 5432),
                          user="postgres", dbname="postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('server_version'), (SELECT extversion FROM "
                    "pg_extension WHERE extname = 'vector')")
        server, vector = cur.fetchone()
    conn.close()
    return {"postgresql": str(server).split()[0], "pgvector": str(vector)}


def stop_postgres() -> None:
    if GENERAL is not None:
        GENERAL.close()
        return
    TREE.graph_store.close()
    pgserver.pg_ctl(["-w", "stop"], pgdata=PG.pgdata, user=PG.system_user)


if __name__ == "__main__":
    try:
        code = wc.serve(handle, {"MemoryOS": metadata.version("MemoryOS"),
                                 "pgserver": metadata.version("pgserver"), **server_versions()},
                        PROTO)
    finally:
        stop_postgres()
    sys.exit(code)
