"""SuperLocalMemory (superlocalmemory 4.1.18) Mode A in its own environment; memeval.adapters.
memory.slm drives this file over JSON lines (memeval.jsonworker).

One engine in the run's storage folder; a namespace is an SLM profile (a row in its profiles
table: SLM refuses writes to unknown profiles), fresh at every reset. Mode A calls no LLM.
Requests: reset {ns}; add {ns, session_id, date, turns: [{speaker, text, role}]} -> the facts
SLM extracted ({id, text}); search {ns, query, k}; info -> versions and counted failures.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from importlib import metadata
from pathlib import Path

ARGS = json.loads(sys.argv[1])
for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false",
                   # a write waits up to 1 s for its embedding, then leaves it to a background
                   # pass; on a busy 2-core box that second is often too short, and a fact
                   # stored without a vector is invisible to the semantic channel at search
                   "SLM_STORE_FAST_EMBED_TIMEOUT_MS": "30000"}.items():
    os.environ.setdefault(key, value)
_spec = __import__("importlib").util.spec_from_file_location(
    "memeval_worker_child", f"{ARGS['repo']}/memeval/worker_child.py")
wc = __import__("importlib").util.module_from_spec(_spec)
_spec.loader.exec_module(wc)
PROTO = wc.claim_stdout()

from superlocalmemory.core.config import EmbeddingConfig, SLMConfig  # noqa: E402
from superlocalmemory.core.engine import MemoryEngine  # noqa: E402
from superlocalmemory.storage.models import Mode  # noqa: E402

failures: dict[str, int] = {}
PROFILES = Path(ARGS["base_dir"]) / "memeval-profiles.json"  # ns -> profile, across restarts
profiles: dict[str, str] = json.loads(PROFILES.read_text()) if PROFILES.is_file() else {}


def count(kind: str, n: int = 1) -> None:
    if n:
        failures[kind] = failures.get(kind, 0) + n


def build() -> MemoryEngine:
    cfg = SLMConfig.for_mode(Mode.A, base_dir=Path(ARGS["base_dir"]))
    # Mode A's for_mode hard-codes nomic-embed-text-v1.5 (768 d) whatever model is asked
    # for; offline it cannot load, the embedding worker answers "Model load failed" on a
    # stderr SLM sends to /dev/null, and every fact is stored without a vector: the
    # semantic channel stays empty. The local MiniLM is set here, after for_mode.
    cfg.embedding = EmbeddingConfig(model_name=ARGS["embedder"], dimension=384,
                                    provider="sentence-transformers")
    cfg.retrieval.use_cross_encoder = False  # its model would be fetched from the hub
    eng = MemoryEngine(cfg)
    eng.initialize()
    # SLM embeds a new fact only when its embedder is warm (else a background pass does it
    # later): warm it now so facts are searchable by meaning when add returns
    if not eng.embedder or not eng.embedder.embed("warm up"):
        count("embedder.unavailable")
    return eng


ENGINE = build()


def _pid(ns: str) -> str:
    if ns not in profiles:
        reset(ns)
    return profiles[ns]


def reset(ns: str) -> dict:
    pid = f"{ns}#{uuid.uuid4().hex[:8]}"
    ENGINE.db.execute("INSERT OR IGNORE INTO profiles (profile_id, name) VALUES (?, ?)",
                      (pid, pid))
    profiles[ns] = pid
    PROFILES.write_text(json.dumps(profiles))
    return {"profile": pid}


def add(req: dict) -> dict:
    pid, made = _pid(req["ns"]), []
    for t in req["turns"]:
        try:
            ids = ENGINE.store(t["text"], session_id=req["session_id"], speaker=t["speaker"],
                               role=t.get("role") or "user", session_date=req.get("date"),
                               profile_id=pid)
        except Exception as e:  # noqa: BLE001 - counted; the session goes on
            count(f"store.{type(e).__name__}")
            continue
        if not ids:
            count("store.no_fact")
        for fid in ids:
            row = ENGINE.db.execute("SELECT content, embedding IS NULL AS bare FROM atomic_facts "
                                    "WHERE fact_id = ? AND profile_id = ?", (fid, pid))
            if not row:
                count("store.fact_missing")
                continue
            if row[0]["bare"]:  # a second chance, then counted: findable by wording only
                ENGINE.enrich_new_facts_now([fid], timeout_s=30, profile_id=pid)
                again = ENGINE.db.execute("SELECT embedding IS NULL AS bare FROM atomic_facts "
                                          "WHERE fact_id = ?", (fid,))
                if not again or again[0]["bare"]:
                    count("embed.missing")
            made.append({"id": fid, "text": row[0]["content"], "turn_id": t.get("turn_id")})
    return {"facts": made}


def search(req: dict) -> dict:
    res = ENGINE.recall(req["query"], profile_id=_pid(req["ns"]), limit=int(req["k"]))
    for channel, status in (res.channel_status or {}).items():
        if status == "no_embedding":
            count(f"recall.{channel}.no_embedding")
    return {"hits": [{"id": r.fact.fact_id, "text": r.fact.content, "score": float(r.score),
                      "channels": {k: float(v) for k, v in r.channel_scores.items()}}
                     for r in res.results or []]}


def handle(req: dict) -> dict:
    op = req["op"]
    if op == "reset":
        return reset(req["ns"])
    if op == "add":
        return add(req)
    if op == "search":
        return search(req)
    if op == "info":
        return {"failures": dict(failures), "profiles": len(profiles)}
    raise ValueError(f"unknown op {op!r}")


if __name__ == "__main__":
    try:
        code = wc.serve(handle, {"superlocalmemory": metadata.version("superlocalmemory")}, PROTO)
    finally:
        ENGINE.close()
    sys.exit(code)
