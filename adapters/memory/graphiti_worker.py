"""Graphiti (graphiti-core 0.22.0) on embedded Kuzu (0.11.3) in its own environment;
memeval.adapters.memory.graphiti drives this file over JSON lines (memeval.jsonworker).

One Kuzu database in the run's storage folder; a namespace is a Graphiti group id, fresh at
every reset (the map ns -> group survives a worker restart). The LLM is memeval's endpoint
through the adapter's proxy (cached, counted as system:graphiti); the embedder is the local
all-MiniLM-L6-v2. Requests: reset {ns}; add {ns, episodes: [{name, body, when, source}]} ->
the entity edges each add_episode returned ({uuid, fact, event, ...}); search {ns, query, k};
info -> versions and counted failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import sys
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

ARGS = json.loads(sys.argv[1])
for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false", "GRAPHITI_TELEMETRY_ENABLED": "false",
                   "EMBEDDING_DIM": "384"}.items():
    os.environ.setdefault(key, value)
_spec = __import__("importlib").util.spec_from_file_location(
    "memeval_worker_child", f"{ARGS['repo']}/memeval/worker_child.py")
wc = __import__("importlib").util.module_from_spec(_spec)
_spec.loader.exec_module(wc)
PROTO = wc.claim_stdout()

from graphiti_core import Graphiti  # noqa: E402
from graphiti_core.cross_encoder.client import CrossEncoderClient  # noqa: E402
from graphiti_core.driver.kuzu_driver import KuzuDriver  # noqa: E402
from graphiti_core.embedder.client import EmbedderClient, EmbedderConfig  # noqa: E402
from graphiti_core.llm_client.config import LLMConfig  # noqa: E402
from graphiti_core.llm_client.openai_generic_client import OpenAIGenericClient  # noqa: E402
from graphiti_core.nodes import EpisodeType  # noqa: E402
from graphiti_core.search.search_config_recipes import EDGE_HYBRID_SEARCH_RRF  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

failures: dict[str, int] = {}
logged: dict[str, str] = {}  # kind -> one message, for the log of what Graphiti swallowed
GROUPS = Path(ARGS["groups"])  # ns -> group id, across worker restarts
groups: dict[str, str] = json.loads(GROUPS.read_text()) if GROUPS.is_file() else {}


def count(kind: str, n: int = 1) -> None:
    if n:
        failures[kind] = failures.get(kind, 0) + n


class SwallowedLog(logging.Handler):
    """Graphiti logs and carries on where its LLM output is unusable (no entities for edge
    extraction, unparsable dates, dedupe ids missing, retries): each such record is counted
    as `log.<module>.<words>`; errors it raises are counted per add by the adapter."""

    def emit(self, record: logging.LogRecord) -> None:
        words = re.sub(r"[^a-z ]+", " ", str(record.msg).lower().replace("warning:", ""))
        slug = "_".join(words.split()[:4]) or "message"
        kind = f"log.{record.name.rsplit('.', 1)[-1]}.{slug}"
        count(kind)
        logged.setdefault(kind, record.getMessage()[:300])


_log = logging.getLogger("graphiti_core")
_log.addHandler(SwallowedLog(level=logging.WARNING))
_log.setLevel(logging.WARNING)

_MODEL = SentenceTransformer(ARGS["embedder"], device="cpu")


def _vectors(texts: list[str]) -> list[list[float]]:
    return _MODEL.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                         show_progress_bar=False).tolist()


class MiniLMEmbedder(EmbedderClient):
    """Graphiti's embedder interface over the local all-MiniLM-L6-v2 (384 d)."""

    def __init__(self) -> None:
        self.config = EmbedderConfig(embedding_dim=384)

    async def create(self, input_data: Any) -> list[float]:
        text = input_data if isinstance(input_data, str) else list(input_data)[0]
        return _vectors([str(text)])[0]

    async def create_batch(self, input_data_list: list[str]) -> list[list[float]]:
        return _vectors(list(input_data_list))


class MiniLMReranker(CrossEncoderClient):
    """Graphiti's cross-encoder slot: no local cross-encoder model exists here, so passages
    are ranked by MiniLM cosine. Only cross-encoder search recipes call it; memeval's search
    uses Graphiti's default (RRF over BM25 + cosine), which does not."""

    async def rank(self, query: str, passages: list[str]) -> list[tuple[str, float]]:
        if not passages:
            return []
        q, *ps = _vectors([query, *passages])
        scored = [(p, float(sum(a * b for a, b in zip(q, v)))) for p, v in zip(passages, ps)]
        return sorted(scored, key=lambda x: x[1], reverse=True)


class SchemaClient(OpenAIGenericClient):
    """OpenAIGenericClient (Graphiti's client for OpenAI-compatible local servers) sends
    `json_object` and puts the schema in the prompt only; this one also sends the response
    model's schema, which memeval's endpoint turns into llama.cpp's grammar-enforced form:
    without it a 135M model's JSON rarely fits Graphiti's pydantic models."""

    async def _generate_response(self, messages: Any, response_model: Any = None,
                                 max_tokens: int | None = None, model_size: Any = None) -> dict:
        chat = [{"role": m.role, "content": self._clean_input(m.content)} for m in messages
                if m.role in ("user", "system")]
        fmt: dict[str, Any] = {"type": "json_object"}
        if response_model is not None:
            fmt = {"type": "json_schema", "json_schema": {
                "name": response_model.__name__, "schema": response_model.model_json_schema()}}
        response = await self.client.chat.completions.create(
            model=self.model, messages=chat, temperature=self.temperature,
            max_tokens=self.max_tokens, response_format=fmt)
        return json.loads(response.choices[0].message.content or "")


def build() -> Graphiti:
    llm = LLMConfig(api_key="memeval", base_url=ARGS["base_url"], model=ARGS["model"],
                    small_model=ARGS["model"], temperature=0.0,
                    max_tokens=int(ARGS["max_tokens"]))
    driver = KuzuDriver(db=ARGS["db"])
    g = Graphiti(graph_driver=driver, llm_client=SchemaClient(llm), embedder=MiniLMEmbedder(),
                 cross_encoder=MiniLMReranker())
    LOOP.run_until_complete(g.build_indices_and_constraints())
    return g


LOOP = asyncio.new_event_loop()
G = build()


def _gid(ns: str) -> str:
    if ns not in groups:
        reset(ns)
    return groups[ns]


def reset(ns: str) -> dict:
    # Graphiti's group ids allow [A-Za-z0-9_-] only; a fresh one per reset isolates the old
    # graph of the namespace without deleting it (a resumed run re-adds into a new group)
    groups[ns] = _stem(ns) + uuid.uuid4().hex[:8]
    GROUPS.write_text(json.dumps(groups))
    return {"group_id": groups[ns]}


def _stem(ns: str) -> str:
    return "ns_" + hashlib.sha1(ns.encode()).hexdigest()[:12] + "_"


def _when(value: str | None) -> datetime:
    if value:
        try:
            dt = datetime.fromisoformat(value)
            return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        except ValueError:
            count("episode.bad_time")  # the session's date is lost for this episode
    return datetime.now(timezone.utc)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _edge(e: Any, episode_uuid: str, names: dict[str, str]) -> dict:
    # An edge this episode extracted carries its uuid; one it only deduplicated onto an
    # existing edge has older episodes too (NONE); one in the result without this episode is
    # an older fact Graphiti invalidated (invalid_at/expired_at set, kept, still searchable)
    if episode_uuid in (e.episodes or []):
        event = "ADD" if len(e.episodes) == 1 else "NONE"
    else:
        event = "UPDATE"
    return {"uuid": e.uuid, "fact": e.fact, "name": e.name, "event": event,
            "valid_at": _iso(e.valid_at), "invalid_at": _iso(e.invalid_at),
            "expired_at": _iso(e.expired_at), "source": names.get(e.source_node_uuid),
            "target": names.get(e.target_node_uuid)}


def add(req: dict) -> dict:
    gid, out, nodes = _gid(req["ns"]), [], 0
    for ep in req["episodes"]:
        try:
            res = LOOP.run_until_complete(G.add_episode(
                name=ep["name"], episode_body=ep["body"], source_description=ep["source"],
                reference_time=_when(ep.get("when")), source=EpisodeType.message,
                group_id=gid))
        except Exception as e:  # noqa: BLE001 - counted; the session goes on
            count(f"add.{type(e).__name__}")
            logged.setdefault(f"add.{type(e).__name__}", str(e)[:300])
            continue
        foreign = [x for x in [*res.nodes, *res.edges] if x.group_id != gid]
        if foreign:
            raise RuntimeError(f"add_episode returned {len(foreign)} items of another group")
        names = {n.uuid: n.name for n in res.nodes}
        nodes += len(res.nodes)
        if not res.edges:
            count("add.no_edge")  # an episode that left no fact: nothing searchable from it
        out += [{**_edge(e, res.episode.uuid, names), "episode": ep["name"]} for e in res.edges]
    return {"edges": out, "nodes": nodes}


def search(req: dict) -> dict:
    gid = _gid(req["ns"])
    cfg = EDGE_HYBRID_SEARCH_RRF.model_copy(deep=True)  # what Graphiti.search uses
    cfg.limit = int(req["k"])
    res = LOOP.run_until_complete(G.search_(req["query"], config=cfg, group_ids=[gid]))
    if any(e.group_id != gid for e in res.edges):  # isolation is asserted, not assumed
        raise RuntimeError(f"Graphiti search for group {gid} returned another group's edges")
    scores = list(res.edge_reranker_scores) + [None] * len(res.edges)
    return {"hits": [{"uuid": e.uuid, "fact": e.fact, "score": s, "valid_at": _iso(e.valid_at),
                      "invalid_at": _iso(e.invalid_at), "expired_at": _iso(e.expired_at)}
                     for e, s in zip(res.edges, scores)]}


def handle(req: dict) -> dict:
    op = req["op"]
    if op == "reset":
        return reset(req["ns"])
    if op == "add":
        return add(req)
    if op == "search":
        return search(req)
    if op == "info":
        return {"failures": dict(failures), "examples": dict(logged), "groups": len(groups)}
    raise ValueError(f"unknown op {op!r}")


if __name__ == "__main__":
    try:
        code = wc.serve(handle, {"graphiti-core": metadata.version("graphiti-core"),
                                 "kuzu": metadata.version("kuzu")}, PROTO)
    finally:
        LOOP.run_until_complete(G.close())
    sys.exit(code)
