"""The infocap pack: averaging rules, CIs and flatness by hand, text sets, and real runs.

Expected values are computed here from the raw per-text records (predictions.jsonl) with the
paper's formula, never read back from the pack's own aggregate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import memeval

from memeval.errors import UserError
from memeval.tasks.infocap import textsets
from memeval.tasks.infocap.measure import TextRecord, estimate, flatness, rates
from memeval.tasks.infocap.task import InfoCapTask

RECS = [TextRecord(tokens=10, text_bytes=40, nll_bits=30.0),
        TextRecord(tokens=30, text_bytes=90, nll_bits=30.0)]


def test_averaging_rules_by_hand() -> None:
    # text bits/token per text: 32 and 24; NLL bits/token per text: 3 and 1
    assert rates(RECS, "reference") == pytest.approx((28.0, 60 / 40))
    assert rates(RECS, "pooled") == pytest.approx((8 * 130 / 40, 60 / 40))
    assert rates(RECS, "samples") == pytest.approx((28.0, 2.0))
    with pytest.raises(ValueError):
        rates([TextRecord(0, 0, 0.0)])


def test_ic_estimate_and_bootstrap() -> None:
    rng = np.random.default_rng(1)
    recs = [TextRecord(int(n), int(n * rng.uniform(3, 5)), float(n * rng.uniform(2, 4)))
            for n in rng.integers(200, 1024, 40)]
    est = estimate(recs, 2.0 ** 28, -24.0, seed=3)
    text = np.mean([8 * r.text_bytes / r.tokens for r in recs])
    nll = sum(r.nll_bits for r in recs) / sum(r.tokens for r in recs)
    assert est.ic == pytest.approx((text - nll - 24) / 28)
    assert est.ci is not None and est.ci[0] < est.ic < est.ci[1] and est.n == 40
    assert estimate(recs, 2.0 ** 28, -24.0, seed=3).ci == est.ci  # seeded
    assert estimate(recs[:1], 2.0 ** 28, -24.0).ci is None


def test_flatness() -> None:
    f = flatness([(20.0, 0.1), (22.0, 0.12), (24.0, 0.14)])
    assert f["slope"] == pytest.approx(0.01) and f["spread"] == pytest.approx(0.04)
    assert flatness([(20.0, 0.1)])["slope"] is None


def test_shipped_set_is_what_its_card_says() -> None:
    ev, tr = textsets.shipped("eval"), textsets.shipped("train")
    assert ev.kind == "mixed" and len(ev.texts) == 32
    assert {t.source for t in ev.texts} == {"prose", "code", "bios", "dialogue"}
    assert not {t.text for t in ev.texts} & {t.text for t in tr.texts}  # disjoint splits
    assert all(len(t.text) >= 4500 for t in ev.texts)
    card = (Path(__file__).parents[1] / "data_cards" / "infocap_mixed.md").read_text()
    assert ev.info["sha256"] in card


def test_user_text_sets(tmp_path: Path) -> None:
    jl = tmp_path / "t.jsonl"
    jl.write_text('{"text": "one two"}\n{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(UserError, match="line 2 has no field 'text'"):
        textsets.load(str(jl))
    jl.write_text('{"body": "one two"}\n{"body": "three"}\n', encoding="utf-8")
    assert [t.text for t in textsets.load(str(jl), "body").texts] == ["one two", "three"]
    txt = tmp_path / "t.txt"
    txt.write_text("a b\nc\n\n\nd e\n", encoding="utf-8")
    assert [t.text for t in textsets.load(str(txt)).texts] == ["a b\nc", "d e"]
    with pytest.raises(UserError, match="never guessed"):
        InfoCapTask(data=str(txt))
    assert InfoCapTask(data=str(txt), kind="other").bias == -27.0
    assert InfoCapTask(data=str(txt), bias=-20.5).bias == -20.5
    with pytest.raises(UserError, match="no such file"):
        textsets.load(str(tmp_path / "nope.jsonl"))


def _by_hand(preds: list[dict], bias: float) -> float:
    tok = np.array([p["meta"]["tokens"] for p in preds], dtype=float)
    text = np.mean(8 * np.array([p["meta"]["text_bytes"] for p in preds]) / tok)
    nll = sum(p["meta"]["nll_bits"] for p in preds) / tok.sum()
    return (text - nll + bias) / math.log2(preds[0]["meta"]["flops_per_token"])


@pytest.mark.slow
def test_smollm2_llamacpp_run_and_series(tmp_path: Path) -> None:
    out = tmp_path / "smol"
    memeval("run", "--task", "infocap", "--system", "smollm2-135m", "--backend", "llamacpp",
            "--limit", "3", "--out", str(out), timeout=600)
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 3 and all(p["error"] is None for p in preds)
    assert all(p["meta"]["tokens"] == 1023 for p in preds)  # 1,024 tokens, the first unpredicted
    assert preds[0]["meta"]["flops_per_token"] == pytest.approx(3.043146e8, rel=2e-7)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["system"]["options"] == {"backend": "llamacpp"}
    assert manifest["system"]["kind"] == "language-model"
    res = json.loads((out / "metrics.json").read_text())
    ic = res["metrics"]["information_capacity"]["strata"]["config"]["model"]["valid"]
    assert ic["mean"] == pytest.approx(_by_hand(preds, -24.0), rel=1e-9)
    assert ic["ci_boot"][0] < ic["mean"] < ic["ci_boot"][1]
    assert (out / "plots" / "infocap.png").stat().st_size > 10_000
    # a second series: two tiny from-scratch models trained here, then the joint plot
    tiny = tmp_path / "tiny"
    memeval("run", "--task", "infocap:sizes=1x16;1x32,train_steps=4,context=32,batch_size=2,"
            "max_tokens=64", "--system", "gpt2-tiny", "--limit", "3", "--out", str(tiny),
            timeout=600)
    table = json.loads((tiny / "metrics.json").read_text())["details"]["infocap"]
    assert [r["config"] for r in table] == ["1x16", "1x32"]
    assert all(r["training"]["steps"] == 4 for r in table)
    lines = InfoCapTask.across_runs([out, tiny], tmp_path / "series")
    assert (tmp_path / "series" / "infocap_series.png").exists()
    assert any(line.startswith("gpt2-tiny: ") and "slope" in line for line in lines)


def test_backend_flag_is_a_system_option(tmp_path: Path) -> None:
    bad = memeval("run", "--task", "infocap", "--system", "smollm2-135m:backend=hf",
                  "--backend", "llamacpp", "--limit", "1", "--out", str(tmp_path / "x"),
                  check=False)
    assert bad.returncode != 0 and "backend is set twice" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = memeval("run", "--task", "infocap", "--system", "gpt2-tiny", "--backend", "hf",
                    "--limit", "1", "--out", str(tmp_path / "y"), check=False)
    assert wrong.returncode != 0 and "one implementation" in wrong.stderr


def test_hf_system_on_a_local_checkpoint(tmp_path: Path) -> None:
    """`--system hf:path=DIR` through lm-eval's HFLM: a tiny random Pythia-style model saved
    with SmolLM2's tokenizer; its FLOPs come from its own config (plain MLP: 4 d d_ff)."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from memeval.adapters.lm.hf import smollm2_gguf
    from memeval.adapters.lm.tokenizers import load_hf_tokenizer

    tok = load_hf_tokenizer(*smollm2_gguf()).tok
    cfg = GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=256,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    ckpt = tmp_path / "ckpt"
    GPTNeoXForCausalLM(cfg).save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    out = tmp_path / "run"
    memeval("run", "--task", "infocap:max_tokens=128", "--system", f"hf:path={ckpt}",
            "--limit", "2", "--out", str(out), timeout=600)
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    d, v, t = 32, len(tok), 128
    per_layer = 4 * d * d + 4 * d * d + 4 * d * (t - 1) / 2 + 4 * d * 64
    assert preds[0]["meta"]["flops_per_token"] == pytest.approx(2 * per_layer + 2 * d * v)
    assert all(p["meta"]["tokens"] == 127 for p in preds)
    # a random model's NLL is near log2(vocab): ~15.6 bits per token
    assert all(abs(p["meta"]["nll_bits"] / 127 - math.log2(v)) < 1.5 for p in preds)
    # the report embeds the pack's plot and renders its details table (generically)
    memeval("report", str(out))
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "## Plots from the task" in md and html.count("data:image/png") >= 2
    header = next(line for line in md.splitlines() if line.startswith("| config | model |"))
    assert "| flops_per_token |" in header and "| ic |" in header


def test_offline_hub_set_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="cannot be opened"):
        textsets.load("hub:memeval-no-such-org/no-such-set")
