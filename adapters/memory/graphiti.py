"""Graphiti (`graphiti-core[kuzu]` 0.22.0, Zep's open core) on embedded Kuzu 0.11.3, in its own
environment (`.venv-systems/graphiti`, built on first use by memeval.sysenv) and driven over
JSON lines (graphiti_worker.py). 0.22.0, not the newest 0.31.2: that one needs httpx and has two
Kuzu bugs (getzep/graphiti#1258). The Kuzu database lies in the run's storage folder; a
namespace is a Graphiti group id (searches are restricted to it, and the worker asserts that
nothing of another group comes back).

Graphiti's LLM calls go to memeval's endpoint through LLMProxy (cached, counted in the ledger as
`system:graphiti`, JSON schema translated for llama.cpp); its embedder is the local MiniLM.

Episodes: one per session by default (`episode=session`): measured here, one turn episode took
~55 s with SmolLM2 on 2 busy cores (2 LoCoMo turns: 110 s, 11 LLM calls), so a HaluMem user
(2,720 messages) would take ~40 h per turn. `episode=turn` is Zep's own LoCoMo harness (each
message one episode) and the faithful option where time allows. Ingest is joint: one graph
per conversation with speaker-named messages, as Zep's harness.

`add` reports the entity edges (facts) that add_episode returned: ADD = extracted from this
episode, NONE = deduplicated onto an existing fact, UPDATE = an older fact this episode
invalidated (Graphiti sets its invalid_at/expired_at and keeps it: bi-temporal, not a DELETE).
Entity nodes are not reported as memories (they are names); their count is in each Memory's
meta. `search` is Graphiti's edge search (hybrid BM25 + cosine, RRF), facts with RRF scores.

Internal failures counted: `<step>.<kind>` from the proxy (invalid_json, truncated, llm_error,
endpoint_down), `add.<Exception>` (an episode add_episode raised on: skipped, the session goes
on), `add.no_edge` (an episode that left no fact), `log.<module>.<words>` (what Graphiti logged
at WARNING or above and carried on with), `episode.bad_time`, and `worker.died`.
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

WORKER = Path(__file__).with_name("graphiti_worker.py")
REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = ("graphiti-core[kuzu]==0.22.0", "kuzu==0.11.3", "openai==3.57.0",
                "sentence-transformers==6.2.0", "transformers==5.24.0", "numpy==2.4.6",
                "pydantic==2.14.4", "neo4j==6.4.1", "tenacity==9.2.1", "diskcache==5.6.3",
                "posthog==7.91.1",
                "httpx==0.28.1")  # graphiti_core.llm_client imports it; openai 3.x does not pull it
EPISODES = ("turn", "session")


class GraphitiSystem:
    name: ClassVar[str] = "graphiti"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "memory"
    setting: ClassVar[Setting] = "online-retrieval"
    capabilities: ClassVar[Capabilities] = Capabilities(ingest="joint")

    def __init__(self, ctx: SystemContext, k: int | None = None, episode: str = "session",
                 max_tokens: int = 1024) -> None:
        if episode not in EPISODES:
            raise UserError(f"graphiti: episode must be one of {', '.join(EPISODES)}, "
                            f"got {episode!r}")
        self.ctx = ctx
        self.default_k = int(k) if k else None
        self.episode = episode
        self.max_tokens = int(max_tokens)  # Graphiti's 8192 is the whole window here
        self.storage = Path(ctx.storage_dir)
        self.storage.mkdir(parents=True, exist_ok=True)
        self.failures = FailureCounter()
        self.proxy = LLMProxy(LLMSeam(ctx, self.failures, "graphiti"))
        self.python = ensure_graphiti_env()
        self.seat = WorkerSeat(self._launch, "Graphiti worker", self.failures,
                               after=self.proxy.raise_outage)
        self._known: set[str] = set()
        self.seat.start()

    def _launch(self) -> JsonWorker:
        args = {"repo": str(REPO), "db": str(self.storage / "graphiti.kuzu"),
                "groups": str(self.storage / "graphiti-groups.json"),
                "embedder": str(minilm_path()), "base_url": self.proxy.base_url("graphiti"),
                "model": self.ctx.llm.endpoint.model, "max_tokens": self.max_tokens}
        return JsonWorker(self.python, WORKER, [json.dumps(args)],
                          env={"OMP_NUM_THREADS": "1"}, label="Graphiti worker",
                          stderr_path=self.storage / "graphiti-worker.log")

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.seat.ask(req)

    def _episodes(self, session: Session) -> list[dict[str, Any]]:
        src = f"conversation session {session.session_id}"
        if self.episode == "session":
            body = "\n".join(f"{t.speaker}: {t.text}" for t in session.turns)
            return [{"name": session.session_id, "body": body, "source": src,
                     "when": _iso(session.timestamp)}]
        return [{"name": f"{session.session_id}:{t.turn_id}", "body": f"{t.speaker}: {t.text}",
                 "source": src, "when": _iso(t.timestamp) or _iso(session.timestamp)}
                for t in session.turns]

    def reset(self, ns: str) -> None:
        self._ask({"op": "reset", "ns": ns})
        self._known.add(ns)

    def add(self, ns: str, session: Session) -> list[Memory]:
        res = self._ask({"op": "add", "ns": ns, "episodes": self._episodes(session)})
        return [Memory(text=e["fact"], memory_id=e["uuid"], event=e["event"],
                       timestamp=e["valid_at"] or session.timestamp,
                       meta={"session": session.session_id, "episode": e["episode"],
                             "relation": e["name"], "source": e["source"],
                             "target": e["target"], "invalid_at": e["invalid_at"],
                             "expired_at": e["expired_at"], "nodes": res["nodes"]})
                for e in res["edges"]]

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        if ns not in self._known:  # never reset or added here: an empty namespace
            return []
        res = self._ask({"op": "search", "ns": ns, "query": query, "k": self.default_k or k})
        return [Memory(text=h["fact"], memory_id=h["uuid"], score=h["score"],
                       timestamp=h["valid_at"],
                       meta={"invalid_at": h["invalid_at"], "expired_at": h["expired_at"]})
                for h in res["hits"]]

    def info(self) -> dict[str, Any]:
        counts, examples = self.seat.failure_counts()
        return {"library": self.seat.versions or {"graphiti-core": "0.22.0", "kuzu": "0.11.3"},
                "config": {"episode": self.episode, "k": self.default_k, "driver": "kuzu",
                           "search": "EDGE_HYBRID_SEARCH_RRF", "embedder": "all-MiniLM-L6-v2",
                           "reranker": "MiniLM cosine (unused by RRF search)",
                           "max_tokens": self.max_tokens, "llm": llm_config(self.ctx),
                           "proxy_calls": self.proxy.calls,
                           "environment": str(self.python.parent.parent)},
                "internal_failures": counts, "failure_examples": examples}

    def close(self) -> None:
        self.seat.close()
        self.proxy.close()


def ensure_graphiti_env() -> Path:
    from memeval.sysenv import ensure_env

    return ensure_env("graphiti", REQUIREMENTS, minutes="about 3")


def _iso(stamp: str | None) -> str | None:
    when = parse_when(stamp)
    return when.isoformat() if when else None
