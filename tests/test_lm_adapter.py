"""The Trainable adapter over transformers: losses, greedy decoding, seeding, schedules."""

import math

import numpy as np
import pytest
import torch

from memeval.contracts import TrainConfig, Trainable
from memeval.adapters.lm.hf import TinyGPT2, parse_size
from memeval.adapters.lm.tokenizers import WordTokenizer
from memeval.errors import UserError

CORPUS = ["the cat sat on the mat .", "a dog ran in the park !", "birds sing at dawn ."]


@pytest.fixture()
def model():
    m = TinyGPT2(None, size="2x32", device="cpu")
    m.prepare(CORPUS, seed=3)
    return m


def test_is_trainable_and_reports_its_architecture(model):
    assert isinstance(model, Trainable)
    info = model.info()
    assert info["model"] == "gpt2-tiny-2x32" and info["model_type"] == "gpt_neox"
    assert info["layers"] == 2 and info["width"] == 32 and info["heads"] == 2
    assert info["tied_embeddings"] is True
    cfg = model.model.config
    assert cfg.use_parallel_residual is False and cfg.hidden_dropout == 0.0
    assert cfg.attention_dropout == 0.0 and cfg.rope_parameters["partial_rotary_factor"] == 1.0


def test_token_losses_match_a_manual_cross_entropy(model):
    seqs = [model.tokenizer.encode(t) for t in CORPUS]
    got = model.token_losses(seqs, batch_size=2)  # padded batches
    for s, losses in zip(seqs, got):
        with torch.no_grad():
            logits = model.model(input_ids=torch.tensor([s])).logits[0, :-1]
        ref = torch.nn.functional.cross_entropy(logits, torch.tensor(s[1:]), reduction="none")
        assert losses.shape == (len(s) - 1,)
        np.testing.assert_allclose(losses, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_greedy_generation_equals_repeated_argmax(model):
    prompt = model.tokenizer.encode("the cat")
    [gen] = model.generate([prompt], [5])
    ids = list(prompt)
    for _ in range(5):
        with torch.no_grad():
            ids.append(int(model.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    assert gen == ids[len(prompt):]
    # batched with a shorter, left-padded prompt: each row as if alone
    short = model.tokenizer.encode("dog")
    [alone] = model.generate([short], [4])
    both = model.generate([prompt, short], [5, 4])
    assert both == [gen, alone]


def test_training_lowers_loss_and_prepare_restores_the_init(model):
    seqs = [model.tokenizer.encode(t) for t in CORPUS]
    before = [x.mean() for x in model.token_losses(seqs)]
    model.configure(TrainConfig(lr=1e-2), total_steps=30)
    for _ in range(30):
        model.train_step(seqs)
    after = [x.mean() for x in model.token_losses(seqs)]
    assert max(after) < min(before)
    info = model.info()
    assert info["train_steps"] == 30 and info["phases"][0]["tokens"] == 30 * sum(
        len(s) - 1 for s in seqs)
    model.prepare(CORPUS, seed=3)
    again = [x.mean() for x in model.token_losses(seqs)]
    np.testing.assert_allclose(again, before, rtol=1e-6)
    assert model.info()["train_steps"] == 0


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(lr=1.0, schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    f = [cfg.lr_factor(s, 110) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0) and f[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[60] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 50 / 99)))
    assert TrainConfig().lr_factor(5, 10) == 1.0


def test_variant_sizes_and_bad_sizes():
    m = TinyGPT2(None, size="1x16", device="cpu")
    v = m.variant(size="3x48")
    assert isinstance(v, TinyGPT2) and (v.layers, v.width, v.heads) == (3, 48, 3)
    assert parse_size("12x768") == (12, 768)
    with pytest.raises(UserError):
        parse_size("tiny")
    with pytest.raises(UserError):
        TinyGPT2(None, size="1x30", heads=4)


def test_word_tokenizer_roundtrip_and_unknowns():
    tok = WordTokenizer.fit(["Hello, world!", "It's 2024."])
    ids = tok.encode("Hello, world! zebra")
    assert ids[-1] == tok.unk_id and tok.decode(ids[:4]) == "Hello, world!"
    assert WordTokenizer.fit(["b a", "c"]).itos == WordTokenizer.fit(["c a b"]).itos
