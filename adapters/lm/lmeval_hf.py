"""Any local transformers checkpoint as a language model, through lm-eval's `HFLM`.

lm-eval does the three `LM` methods (its own batching, truncation and prefix token);
`score_tokens` reads the same loaded model and tokenizer directly, because information
capacity needs per-token sums and decoded bytes that `loglikelihood_rolling` hides. Nothing
is downloaded: `path` must be a local folder (HF_HUB_OFFLINE is set while loading).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.adapters.lm.lm_methods import HFTokenized, _args
from memeval.adapters.lm.torch_lm import pick_device, torch_targets
from memeval.contracts import Setting, SystemContext, SystemKind
from memeval.errors import UserError

_DTYPES = ("float32", "bfloat16", "float16")


def _instances(kind: str, requests: Sequence[Any]) -> list[Any]:
    from lm_eval.api.instance import Instance

    return [Instance(request_type=kind, doc={}, arguments=_args(r), idx=i)  # type: ignore[arg-type]
            for i, r in enumerate(requests)]


class HFLanguageModel(HFTokenized):
    name: ClassVar[str] = "hf"
    version: ClassVar[str] = "1.0"
    kind: ClassVar[SystemKind] = "language-model"
    setting: ClassVar[Setting] = "parametric-only"

    def __init__(self, ctx: SystemContext | None = None, path: str = "",
                 gguf_file: str | None = None, dtype: str = "float32", device: str = "auto",
                 batch_size: int = 4, max_length: int | None = None,
                 threads: int | None = None) -> None:
        import torch
        from lm_eval.models.huggingface import HFLM

        if not path or not Path(path).is_dir():
            raise UserError(f"{self.name}: option path=<local checkpoint folder> is required "
                            f"and must exist (got {path or 'nothing'!r})")
        if dtype not in _DTYPES:
            raise UserError(f"{self.name}: dtype must be one of {', '.join(_DTYPES)}")
        self.options = {"path": path, "gguf_file": gguf_file, "dtype": dtype,
                        "device": device, "batch_size": int(batch_size),
                        "max_length": max_length, "threads": threads}
        if threads:
            torch.set_num_threads(int(threads))
        self.device = pick_device(device)
        self.batch_size = int(batch_size)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        kw: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        if max_length:
            kw["max_length"] = int(max_length)
        try:
            self.lm = HFLM(pretrained=str(path), device=str(self.device), dtype=dtype,
                           batch_size=int(batch_size), softmax_dtype="float32", **kw)
        except OSError as e:
            raise UserError(f"{self.name}: cannot load a causal LM from {path}: {e}") from e
        self.model, self.tok = self.lm.model, self.lm.tokenizer
        self.max_length = int(self.lm.max_length)
        self.prefix_token_id = int(self.lm.prefix_token_id)
        self.pad_id = int(self.tok.pad_token_id if self.tok.pad_token_id is not None
                          else self.tok.eos_token_id)

    # ---- lm-eval does the LM methods ----
    def loglikelihood(self, requests: Sequence[Any], disable_tqdm: bool = True) \
            -> list[tuple[float, bool]]:
        res = self.lm.loglikelihood(_instances("loglikelihood", requests), disable_tqdm=True)
        return [(float(a), bool(b)) for a, b in res]

    def loglikelihood_rolling(self, requests: Sequence[Any],
                              disable_tqdm: bool = True) -> list[float]:
        res = self.lm.loglikelihood_rolling(_instances("loglikelihood_rolling", requests),
                                            disable_tqdm=True)
        return [float(x) for x in res]

    def generate_until(self, requests: Sequence[Any], disable_tqdm: bool = True) -> list[str]:
        return [str(x) for x in self.lm.generate_until(_instances("generate_until", requests),
                                                       disable_tqdm=True)]

    # ---- TokenLM hooks (score_tokens) ----
    def _targets(self, seqs: Sequence[Sequence[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        return torch_targets(self.model, seqs, self.pad_id, self.device, self.batch_size)

    def hf_config(self) -> dict[str, Any]:
        return self.model.config.to_dict()

    def info(self) -> dict[str, Any]:
        import lm_eval
        import torch

        cfg = self.model.config
        return {"class": type(self).__name__, "backend": "lm-eval HFLM",
                "lm_eval": lm_eval.__version__, "options": dict(self.options),
                "device": str(self.device), "model_type": cfg.model_type,
                "params_total": int(sum(p.numel() for p in self.model.parameters())),
                "dtype": str(next(self.model.parameters()).dtype),
                "torch_threads": torch.get_num_threads(), "max_length": self.max_length}

    def close(self) -> None:
        self.model = None
        self.lm = None


class SmolLM2HF(HFLanguageModel):
    """SmolLM2-135M-Instruct's GGUF, dequantized by transformers, through lm-eval's HFLM."""

    name: ClassVar[str] = "smollm2-135m"

    def __init__(self, ctx: SystemContext | None = None, dtype: str = "float32",
                 device: str = "auto", batch_size: int = 4, threads: int | None = None) -> None:
        from memeval.adapters.lm.hf import smollm2_gguf

        folder, fname = smollm2_gguf()
        super().__init__(ctx, path=str(folder), gguf_file=fname, dtype=dtype, device=device,
                         batch_size=batch_size, threads=threads)
        self.options = {"backend": "hf", "dtype": dtype, "device": device,
                        "batch_size": int(batch_size), "threads": threads}
