"""SuperLocalMemory (`superlocalmemory` 4.1.18, Mode A: zero LLM calls) in its own
environment: it pins transformers 5.10.4, sentence-transformers 5.6.1 and numpy 2.4.4, which
clash with memeval's, so memeval builds `.venv-systems/slm` on first use (memeval.sysenv) and
drives slm_worker.py there over JSON lines. The embedder is memeval's local all-MiniLM-L6-v2
(by path, 384 d); SLM's cross-encoder is off (its model would be downloaded).

`add` stores each turn (SLM extracts its own facts from it, without an LLM) and reports each
extracted fact as an ADD. Internal failures counted: `store.<Error>` (a turn SLM refused),
`store.no_fact` (a turn that gave no fact), `embed.missing` (a fact without a vector:
findable by its words only), `recall.<channel>.no_embedding`, `embedder.unavailable`, and
`worker.died` (the worker exited: the sample fails with its log's tail; a new worker starts
for the next call, and the run resumes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from memeval.adapters.memory.base import FailureCounter
from memeval.adapters.memory.embedder import minilm_path
from memeval.adapters.memory.notes import parse_when
from memeval.contracts import Capabilities, Setting, SystemContext, SystemKind
from memeval.adapters.memory.worker_seat import WorkerSeat
from memeval.jsonworker import JsonWorker
from memeval.records import Memory, Session
from memeval.sysenv import ensure_env

WORKER = Path(__file__).with_name("slm_worker.py")
REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = ("superlocalmemory==4.1.18",)


class SuperLocalMemory:
    name: ClassVar[str] = "slm"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "memory"
    setting: ClassVar[Setting] = "online-retrieval"
    capabilities: ClassVar[Capabilities] = Capabilities(ingest="per-speaker")

    def __init__(self, ctx: SystemContext | None = None, k: int | None = None) -> None:
        import tempfile

        self.default_k = k
        self.storage = Path(ctx.storage_dir) if ctx is not None else Path(tempfile.mkdtemp())
        self.storage.mkdir(parents=True, exist_ok=True)
        self.python = ensure_env("slm", REQUIREMENTS, minutes="about 3")
        self.failures = FailureCounter()
        self.seat = WorkerSeat(self._launch, "SuperLocalMemory worker", self.failures)
        self._known: set[str] = set()
        self.seat.start()

    def _launch(self) -> JsonWorker:
        args = {"repo": str(REPO), "base_dir": str(self.storage / "slm"),
                "embedder": str(minilm_path())}
        return JsonWorker(self.python, WORKER, [json.dumps(args)],
                          env={"OMP_NUM_THREADS": "1"}, label="SuperLocalMemory worker",
                          stderr_path=self.storage / "slm-worker.log")

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.seat.ask(req)

    def reset(self, ns: str) -> None:
        self._ask({"op": "reset", "ns": ns})
        self._known.add(ns)

    def add(self, ns: str, session: Session) -> list[Memory]:
        when = parse_when(session.timestamp)
        turns = [{"speaker": t.speaker, "text": t.text, "role": t.role, "turn_id": t.turn_id}
                 for t in session.turns]
        res = self._ask({"op": "add", "ns": ns, "session_id": session.session_id,
                         "date": when.date().isoformat() if when else None, "turns": turns})
        return [Memory(text=f["text"], memory_id=f["id"], event="ADD", timestamp=session.timestamp,
                       meta={"session": session.session_id, "turn_id": f["turn_id"]})
                for f in res["facts"]]

    def search(self, ns: str, query: str, k: int) -> list[Memory]:
        if ns not in self._known:  # never reset or added here: an empty namespace
            return []
        res = self._ask({"op": "search", "ns": ns, "query": query, "k": self.default_k or k})
        return [Memory(text=h["text"], memory_id=h["id"], score=h["score"],
                       meta={"channels": h["channels"]}) for h in res["hits"]]

    def info(self) -> dict[str, Any]:
        counts, _ = self.seat.failure_counts()
        return {"library": self.seat.versions or {"superlocalmemory": REQUIREMENTS[0]},
                "config": {"mode": "A", "k": self.default_k, "embedder": "all-MiniLM-L6-v2",
                           "cross_encoder": False, "environment": str(self.python.parent.parent)},
                "internal_failures": counts}

    def close(self) -> None:
        self.seat.close()
