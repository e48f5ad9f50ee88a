"""Knowledge-capacity formulas (Allen-Zhu & Li 3.3) and parameter counting."""

import math

import pytest

from memeval.metrics import capacity as cap


def test_bios_constants_and_the_papers_64879_bits():
    assert cap.LOG2_N0 == pytest.approx(27.253, abs=5e-4)
    assert cap.LOG2_S0 == pytest.approx(47.592, abs=5e-4)
    # N log2(N0/N) + N log2 S0 at N = 1,000: 17,287.5 + 47,591.6 bits
    assert round(cap.bios_max_bits(1000)) == 64879


def test_perfect_model_losses_give_r_max():
    n, params = 1000, 32_000
    perfect = cap.bios_bits(n, p1=math.log(n), p2=0.0)
    assert cap.ratio(perfect, params) == pytest.approx(cap.bios_max_bits(n) / params)
    assert cap.ratio(perfect, params) == pytest.approx(64879.336 / 32_000, rel=1e-6)
    biod = cap.biod_bits(500, 4, 2, 64, 2, 16, p1=math.log(500), p2=0.0, p3=0.0)
    assert biod == pytest.approx(cap.biod_max_bits(500, 4, 2, 64, 2, 16))


def test_bios_loss_costs_one_bit_per_ln2_nats():
    # every nat of summed loss per person removes N / ln 2 bits
    n = 200
    assert cap.bios_bits(n, math.log(n) + 1.0, 0.0) == pytest.approx(
        cap.bios_max_bits(n) - n / math.log(2))
    assert cap.bios_bits(n, math.log(n), 2.0) == pytest.approx(
        cap.bios_max_bits(n) - 2 * n / math.log(2))


def test_biod_case_computed_by_hand():
    # bioD(N=100, K=2, C=1, D=4, L=2, T=4), log2 N0 = 27.253497, log2 100 = 6.643856
    # perfect: names 100 * (27.253497 - 6.643856)  = 2060.9641
    #          values N K C log2 D = 100 * 2 * 1 * 2 = 400
    #          diversity K D (L log2 T - log2 D) = 2 * 4 * (4 - 2) = 16      -> 2476.9641
    assert cap.biod_max_bits(100, 2, 1, 4, 2, 4) == pytest.approx(2476.9641, abs=1e-3)
    # losses: p1 = ln 100 + ln 2 (one bit short per name), p2 = ln 2 (one bit per attribute),
    # p3 = 0.5 ln 2: names 100 * 19.609641 = 1960.9641; values 100 * 2 * (2 - 1) = 200;
    # diversity 2 * 4 * (4 - 2 - 0.5) = 12                                   -> 2172.9641
    got = cap.biod_bits(100, 2, 1, 4, 2, 4, p1=math.log(100) + math.log(2), p2=math.log(2),
                        p3=0.5 * math.log(2))
    assert got == pytest.approx(2172.9641, abs=1e-3)


def test_biod_p2_is_per_attribute():
    # K = 4, C = 1, D = 64: a model that knows 3 attributes exactly and nothing of the 4th
    # (loss ln 64) keeps 3 * 6 value bits per person: p2 is the mean over attributes
    n, k = 100, 4
    p2 = math.log(64) / k
    bits = cap.biod_bits(n, k, 1, 64, 2, 16, p1=math.log(n), p2=p2, p3=0.0)
    assert bits == pytest.approx(cap.biod_max_bits(n, k, 1, 64, 2, 16) - n * 6, rel=1e-9)


def test_ratio_rejects_no_parameters():
    with pytest.raises(ValueError):
        cap.ratio(10.0, 0)


def _tiny(size: str = "1x8"):
    from memeval.adapters.lm.hf import TinyGPT2

    m = TinyGPT2(None, size=size, device="cpu")
    m.prepare(["a b c"], seed=0)  # vocabulary: <eos>, <unk>, a, b, c
    return m


def test_parameter_count_tied_embeddings_and_unused_rows():
    m = _tiny()
    # width 8, one layer, one head. Per layer: two LayerNorms 2*(8+8) = 32; qkv 8*24 + 24 = 216;
    # attention out 64 + 8 = 72; MLP 8*32 + 32 = 288 and 32*8 + 8 = 264 -> 872.
    # Final LayerNorm 16. Embedding 5 rows x 8 = 40, tied with the head (counted once).
    assert m.n_params() == 872 + 16 + 40
    assert sum(p.numel() for p in m.model.parameters()) == 928  # torch dedups tied too
    assert m.model.get_output_embeddings().weight is m.model.get_input_embeddings().weight
    # only <eos>, a, b used: 2 rows x 8 excluded, once (the head is the same tensor)
    assert m.n_params(used_ids=[0, 2, 3, 3, 99]) == 928 - 16


def test_parameter_count_untied_head_excludes_both_copies():
    from transformers import GPTNeoXForCausalLM

    m = _tiny()
    cfg = m.model.config
    cfg.tie_word_embeddings = False
    m.model = GPTNeoXForCausalLM(cfg)
    assert m.model.get_output_embeddings().weight is not m.model.get_input_embeddings().weight
    assert m.n_params() == 928 + 40
    assert m.n_params(used_ids=[0, 2, 3]) == 928 + 40 - 2 * 16
