"""FLOPs per token (memeval.metrics.infocap) against hand computation and torch's FLOP counter.

The counter runs each family's real transformers implementation on a tiny random model. It
sees every matmul, so the only conventions applied to its count are the paper's: the attention
core (batched matmuls over the full T x T square) is scaled to the causal mean cache length,
and routers are not counted."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import (AutoModelForCausalLM, DeepseekV3Config, FalconConfig, GPT2Config,
                          GPTNeoXConfig, MixtralConfig, OPTConfig, PhiConfig, Qwen2MoeConfig,
                          Qwen3Config)

from memeval.metrics.infocap import (UnsupportedConfig, flops_per_token, information_capacity,
                                     mean_cache)

SMOLLM2 = {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30,
           "num_attention_heads": 9, "num_key_value_heads": 3, "intermediate_size": 1536,
           "vocab_size": 49152, "tie_word_embeddings": True}
LLAMA3_8B = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
             "vocab_size": 128256}
ROUTERS = (".mlp.gate", ".mlp.shared_expert_gate")


def test_hand_computed_smollm2_and_llama3() -> None:
    assert flops_per_token(SMOLLM2, 1024) == pytest.approx(3.043146e8, rel=2e-7)
    assert math.log2(flops_per_token(SMOLLM2)) == pytest.approx(28.18, abs=5e-3)
    assert flops_per_token(LLAMA3_8B, 1024) == pytest.approx(1.527749e10, rel=2e-7)


def test_mean_cache_and_windows() -> None:
    assert mean_cache(1024) == 511.5
    # window 4: positions 0..7 see 0,1,2,3,4,4,4,4 cached tokens
    assert mean_cache(8, 4) == pytest.approx(sum([0, 1, 2, 3, 4, 4, 4, 4]) / 8)
    cfg = {**SMOLLM2, "num_hidden_layers": 2, "sliding_window": 4,
           "layer_types": ["sliding_attention", "full_attention"]}
    full = {**cfg, "layer_types": ["full_attention"] * 2}
    assert flops_per_token(full, 8) - flops_per_token(cfg, 8) == \
        pytest.approx(4 * 576 * (mean_cache(8) - mean_cache(8, 4)))


def test_information_capacity_formula() -> None:
    assert information_capacity(36.0, 4.0, 2.0 ** 28, -24.0) == pytest.approx(8 / 28)
    with pytest.raises(ValueError):
        information_capacity(1, 1, 1, 0)


def test_unknown_family_is_refused_not_guessed() -> None:
    cfg = {**SMOLLM2, "model_type": "mystery"}
    with pytest.raises(UnsupportedConfig, match="mlp='gated'"):
        flops_per_token(cfg)
    assert flops_per_token(cfg, mlp="gated") == flops_per_token(SMOLLM2)
    with pytest.raises(UnsupportedConfig, match="qk_rope_head_dim"):
        flops_per_token({**SMOLLM2, "kv_lora_rank": 8})


def counted(config, seq_len: int = 12) -> float:
    """Per-token forward FLOPs as torch's counter sees them, under the paper's conventions."""
    torch.manual_seed(0)
    moe = hasattr(config, "num_experts_per_tok")
    kw = {"experts_implementation": "eager"} if moe else {}  # fused kernels hide from the counter
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", **kw).eval()
    ids = torch.randint(0, config.vocab_size, (1, seq_len))
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(ids)
    counts = fc.get_flop_counts()
    total = sum(counts["Global"].values())
    core = sum(v for op, v in counts["Global"].items() if "bmm" in str(op))
    routers = sum(sum(c.values()) for mod, c in counts.items() if mod.endswith(ROUTERS))
    assert core > 0, "the attention core was not seen: counting would be wrong"
    return (total - core - routers + core * (seq_len - 1) / (2 * seq_len)) / seq_len


SMALL = {"vocab_size": 101, "max_position_embeddings": 64}
FAMILIES = {
    "qwen3 (head_dim given)": Qwen3Config(
        hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=12, **SMALL),
    "mixtral (MoE top-2)": MixtralConfig(
        hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, **SMALL),
    "qwen2_moe (shared expert, sparse step, dense layers)": Qwen2MoeConfig(
        hidden_size=32, intermediate_size=56, moe_intermediate_size=16,
        shared_expert_intermediate_size=24, num_experts=4, num_experts_per_tok=2,
        decoder_sparse_step=1, mlp_only_layers=[1], num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=4, **SMALL),
    "deepseek_v3 (MLA, first dense layer, shared experts)": DeepseekV3Config(
        hidden_size=32, intermediate_size=56, moe_intermediate_size=16, n_routed_experts=4,
        num_experts_per_tok=2, n_shared_experts=1, first_k_dense_replace=1, n_group=1,
        topk_group=1, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
        q_lora_rank=24, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8,
        v_head_dim=12, **SMALL),
    "gpt2 (native keys, n_inner unset)": GPT2Config(
        n_embd=32, n_layer=2, n_head=4, vocab_size=101, n_positions=64),
    "gpt_neox / Pythia (plain MLP)": GPTNeoXConfig(
        hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        **SMALL),
    "opt (ffn_dim, projected embeddings)": OPTConfig(
        hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=4,
        word_embed_proj_dim=16, **SMALL),
    "falcon (multi-query)": FalconConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, multi_query=True,
        new_decoder_architecture=False, alibi=False, ffn_hidden_size=64, vocab_size=101),
    "phi-2 (plain MLP)": PhiConfig(
        hidden_size=32, intermediate_size=72, num_hidden_layers=2, num_attention_heads=4,
        **SMALL),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_flops_match_torch_counter(family: str) -> None:
    config = FAMILIES[family]
    assert flops_per_token(config.to_dict(), seq_len=12) == pytest.approx(counted(config), rel=1e-9)
