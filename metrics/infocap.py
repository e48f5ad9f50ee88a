"""Information capacity (Yuan et al. 2025, arXiv 2511.08066): compression per unit of compute.

    IC = (text bits per token - NLL bits per token + b) / log2(FLOPs per token)

`flops_per_token` reads a Hugging Face `config.json` dict. Conventions are the paper's
reference scripts' (forward pass only; 2 FLOPs per multiply-add; embeddings, norms, biases,
rotary and routers not counted; attention over the mean KV-cache length of positions 0..T-1;
the LM head every token), but where those scripts miscount an architecture this module counts
what the model computes (each case is pinned against torch's FLOP counter in
tests/test_infocap_flops.py):
- `head_dim` when the config gives it (Qwen3, Gemma): the scripts use hidden / heads;
- GPT-2-style keys (`n_embd`, `n_layer`, `n_head`, `n_inner` = 4d when unset);
- plain (non-gated) MLPs cost 4 d d_ff, gated ones 6 d d_ff: the scripts always count 6;
- MoE: the active experts (top-k x per-expert width) plus shared experts, on the layers that
  are sparse (`first_k_dense_replace`, `moe_layer_freq`, `mlp_only_layers`,
  `decoder_sparse_step`); dense layers at `intermediate_size`;
- MLA (`kv_lora_rank`, DeepSeek-V2/V3): every projection of the un-absorbed computation, and
  attention at the query-key and value head widths; never a latent-token shortcut;
- sliding-window layers (`layer_types`) attend over min(t, window) cached tokens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Dataset bias b of the paper (bits per token), by text-set kind: a table, never guessed
# from a file name. "mixed" is the paper's mixed-source corpus; "zh-fineweb-edu" Chinese
# FineWeb-Edu; "other" any other single-source text.
BIASES: dict[str, float] = {"mixed": -24.0, "zh-fineweb-edu": -18.7, "other": -27.0}

# MLP form by model_type. Unknown types are refused (pass mlp="gated"|"plain"): a guess
# would silently move FLOPs by a third.
GATED = frozenset({
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
    "gemma2", "gemma3_text", "deepseek_v2", "deepseek_v3", "phi3", "olmo", "olmo2", "olmoe",
    "granite", "granitemoe", "cohere", "smollm3", "internlm2", "glm", "glm4", "glm4_moe",
    "exaone", "stablelm", "minicpm", "ministral", "mistral3", "helium", "ernie4_5"})
PLAIN = frozenset({"gpt2", "gpt_neox", "opt", "falcon", "phi", "gptj", "gpt_bigcode", "bloom",
                   "starcoder2", "codegen", "biogpt", "xglm"})


class UnsupportedConfig(ValueError):
    """The config lacks what a correct count needs; the message says what."""


def _pick(cfg: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return default


def _need(cfg: Mapping[str, Any], *keys: str) -> int:
    v = _pick(cfg, *keys)
    if v is None:
        raise UnsupportedConfig(f"config has none of {', '.join(keys)}")
    return int(v)


def mean_cache(seq_len: int, window: int | None = None) -> float:
    """Mean number of cached tokens a query attends over, positions 0..T-1 (T=1024: 511.5)."""
    if window is None or window >= seq_len:
        return (seq_len - 1) / 2
    w = int(window)  # position t sees min(t, w) cached tokens
    return (w * (w - 1) / 2 + w * (seq_len - w)) / seq_len


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = config.get("text_config")  # multimodal wrappers (Gemma 3, Mistral 3...)
    return inner if isinstance(inner, Mapping) and inner.get("hidden_size") else config


def _mlp_form(cfg: Mapping[str, Any], mlp: str | None) -> int:
    if mlp is not None:
        if mlp not in ("gated", "plain"):
            raise UnsupportedConfig(f"mlp must be 'gated' or 'plain', got {mlp!r}")
        return 6 if mlp == "gated" else 4
    kind = str(cfg.get("model_type", ""))
    if kind in GATED:
        return 6
    if kind in PLAIN:
        return 4
    raise UnsupportedConfig(
        f"model_type {kind or '(none)'!r}: MLP form unknown (gated costs 6 d d_ff, plain 4); "
        "pass mlp='gated' or mlp='plain'")


def _kv_heads(cfg: Mapping[str, Any], heads: int) -> int:
    if cfg.get("model_type") == "falcon":  # Falcon's three attention layouts
        if cfg.get("new_decoder_architecture"):
            return int(_pick(cfg, "num_kv_heads", default=heads))
        return 1 if cfg.get("multi_query", True) else heads
    if cfg.get("multi_query"):  # GPT-BigCode
        return 1
    return int(_pick(cfg, "num_key_value_heads", "num_kv_heads", default=heads))


def _windows(cfg: Mapping[str, Any], layers: int) -> list[int | None]:
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    if types:
        return [int(window) if t == "sliding_attention" and window else None for t in types]
    if window and cfg.get("use_sliding_window", True):
        return [int(window)] * layers
    return [None] * layers


def _attention(cfg: Mapping[str, Any], d: int, heads: int) -> tuple[float, float]:
    """(projection FLOPs per token, attention FLOPs per cached token) of one layer."""
    if cfg.get("kv_lora_rank"):
        rank = int(cfg["kv_lora_rank"])
        rope, nope = _need(cfg, "qk_rope_head_dim"), _need(cfg, "qk_nope_head_dim")
        dv = _need(cfg, "v_head_dim")
        dqk, q_rank = rope + nope, cfg.get("q_lora_rank")
        q = 2 * d * q_rank + 2 * q_rank * heads * dqk if q_rank else 2 * d * heads * dqk
        kv = 2 * d * (rank + rope) + 2 * rank * heads * (nope + dv)
        return q + kv + 2 * heads * dv * d, 2 * heads * (dqk + dv)
    d_k = int(_pick(cfg, "head_dim", default=d // heads))
    kv_dim = _kv_heads(cfg, heads) * d_k
    return 4 * d * heads * d_k + 4 * d * kv_dim, 4 * heads * d_k


def _sparse_layers(cfg: Mapping[str, Any], layers: int) -> list[bool]:
    experts = _pick(cfg, "num_local_experts", "num_experts", "n_routed_experts", default=0)
    if not experts or not cfg.get("num_experts_per_tok"):
        return [False] * layers
    first = int(cfg.get("first_k_dense_replace") or 0)
    freq = int(cfg.get("moe_layer_freq") or 1)
    step = int(cfg.get("decoder_sparse_step") or 1)
    dense_only = set(cfg.get("mlp_only_layers") or ())
    return [i >= first and (i - first) % freq == 0 and (i + 1) % step == 0
            and i not in dense_only for i in range(layers)]


def _mlp(cfg: Mapping[str, Any], d: int, sparse: bool, per_mult: int) -> float:
    dense_ff = _pick(cfg, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size",
                     default=4 * d)
    if not sparse:
        return per_mult * d * int(dense_ff)
    width = int(_pick(cfg, "moe_intermediate_size", "intermediate_size"))
    active = int(cfg["num_experts_per_tok"]) * width
    active += int(cfg.get("n_shared_experts") or 0) * width
    active += int(cfg.get("shared_expert_intermediate_size") or 0)
    return per_mult * d * active


def flops_per_token(config: Mapping[str, Any], seq_len: int = 1024,
                    mlp: str | None = None) -> float:
    """Forward FLOPs per token of a decoder-only LM at context length `seq_len`.

    `config` is a Hugging Face config.json dict; `mlp` overrides the MLP form of a
    model_type this module does not know. Raises UnsupportedConfig naming what is missing."""
    if seq_len < 1:
        raise UnsupportedConfig(f"seq_len must be positive, got {seq_len}")
    cfg = _text_config(config)
    d = _need(cfg, "hidden_size", "n_embd", "d_model")
    layers = _need(cfg, "num_hidden_layers", "n_layer", "num_layers")
    heads = _need(cfg, "num_attention_heads", "n_head")
    vocab = _need(cfg, "vocab_size")
    per_mult = _mlp_form(cfg, mlp)
    proj, per_cached = _attention(cfg, d, heads)
    windows = _windows(cfg, layers)
    if len(windows) != layers:
        raise UnsupportedConfig(f"layer_types lists {len(windows)} layers, not {layers}")
    total = 0.0
    for sparse, window in zip(_sparse_layers(cfg, layers), windows, strict=True):
        total += proj + per_cached * mean_cache(seq_len, window) + _mlp(cfg, d, sparse, per_mult)
    head_dim = int(cfg.get("word_embed_proj_dim") or d)  # OPT-350m projects in and out
    if head_dim != d:
        total += 2 * 2 * head_dim * d
    return float(total + 2 * head_dim * vocab)


def information_capacity(text_bits_per_token: float, nll_bits_per_token: float,
                         flops_per_token: float, bias: float) -> float:
    """IC = (text bits - NLL bits + b) / log2(FLOPs), all per token."""
    if not flops_per_token > 1:
        raise ValueError(f"FLOPs per token must exceed 1, got {flops_per_token}")
    return (text_bits_per_token - nll_bits_per_token + bias) / math.log2(flops_per_token)


def bias_for(kind: str) -> float:
    """The paper's dataset bias for a text-set kind (see BIASES)."""
    try:
        return BIASES[kind]
    except KeyError:
        raise UnsupportedConfig(f"text kind {kind!r}: one of {', '.join(BIASES)}") from None
