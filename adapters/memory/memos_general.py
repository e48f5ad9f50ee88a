"""MemOS's `general_text` memory (GeneralTextMemory on embedded qdrant), the lighter variant of
memeval's memos adapter (`--system memos:memory=general_text`); memos_worker.py loads this file
by path inside MemOS's environment (the worker runs with -P: no sibling imports).

No graph DB and no PostgreSQL: one qdrant folder per MemOS user name (a namespace, fresh at each
reset), so namespaces share nothing on disk. add: per batch, `GeneralTextMemory.extract` (one
LLM call with the simple_struct chat prompt, `json.loads` of the reply, three tries on a decode
error) then `add` (embed and upsert); search: `GeneralTextMemory.search` (qdrant cosine, top k).
Unlike tree_text's reader, extract has no raw-window fallback: a reply without the JSON raises,
and the batch is counted as `extract.<Exception>` and stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from memos.configs.memory import GeneralTextMemoryConfig
from memos.memories.textual.general import GeneralTextMemory


class GeneralStore:
    def __init__(self, root: Path, llm: dict[str, Any], embedder: dict[str, Any],
                 count: Callable[..., None], building: Callable[[], Any]) -> None:
        self.root = root
        self.building = building  # a context in which the worker counts no log record
        self.llm = llm
        self.embedder = embedder
        self.count = count
        self.memories: dict[str, GeneralTextMemory] = {}

    def _memory(self, tenant: str) -> GeneralTextMemory:
        if tenant not in self.memories:  # qdrant's local mode: one client per folder
            cfg = GeneralTextMemoryConfig.model_validate({
                "extractor_llm": self.llm, "embedder": self.embedder,
                "vector_db": {"backend": "qdrant", "config": {
                    "collection_name": "memories", "vector_dimension": 384,
                    "distance_metric": "cosine", "path": str(self.root / tenant)}}})
            with self.building():  # qdrant's local-mode notice is not a failure
                self.memories[tenant] = GeneralTextMemory(cfg)
        return self.memories[tenant]

    def add(self, tenant: str, batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        mem, out = self._memory(tenant), []
        for b, batch in enumerate(batches):
            # extract reads role and content only (no chat_time)
            msgs = [{"role": m["role"], "content": m["content"]} for m in batch]
            try:
                items = mem.extract(msgs)
            except Exception as e:  # noqa: BLE001 - counted; the session goes on
                self.count(f"extract.{type(e).__name__}", example=str(e))
                continue
            if not items:
                self.count("read.no_memory")
                continue
            mem.add(items)
            stored = {m.id for m in mem.get_by_ids([m.id for m in items])}
            self.count("add.not_stored", sum(m.id not in stored for m in items))
            chat_time = next((m.get("chat_time") for m in batch if m.get("chat_time")), None)
            out += [{"id": m.id, "memory": m.memory, "memory_type": None,
                     "key": m.metadata.key, "tags": list(m.metadata.tags or []), "raw": False,
                     "chat_time": chat_time, "batch": b} for m in items if m.id in stored]
        return out

    def search(self, tenant: str, query: str, k: int) -> list[dict[str, Any]]:
        # GeneralTextMemory.search returns the payloads without qdrant's scores
        return [{"id": h.id, "memory": h.memory, "memory_type": None, "score": None,
                 "chat_time": None} for h in self._memory(tenant).search(query, top_k=k)]

    def close(self) -> None:
        for mem in self.memories.values():
            mem.vector_db.client.close()
