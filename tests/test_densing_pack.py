"""The densing pack: items, tables, and a small real run (tiny family trained here, a
held-out member inverted as a self-check, a trend from a table). Expected values are computed
in the test from the raw per-item records with the paper's formulas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import memeval

from memeval.errors import UserError
from memeval.metrics.densing import LossLaw, Sigmoid, effective_size, fit_loss_law, fit_sigmoid
from memeval.tasks.capacity.corpus import BioSCorpus
from memeval.tasks.densing.items import make_items
from memeval.tasks.densing.tables import load_family, load_trend
from memeval.tasks.densing.task import DensingTask


def test_items_are_prompt_answer_and_same_attribute_distractors() -> None:
    corpus = BioSCorpus(30, 0, "bioS-simple")
    items = make_items(corpus, range(3), k=4, seed=1)
    assert len(items) == 3 * 5 and items == make_items(corpus, range(3), k=4, seed=1)
    for it in items:
        record = "".join(t for t, _ in corpus.eval_record(it.person))
        assert record.startswith(it.prompt + it.answer)
        assert len(it.distractors) == 3 and it.answer not in it.distractors
        values = {t for p in range(30) for t, r in corpus.eval_record(p)
                  if r == f"value:{it.attribute}"}
        assert set(it.distractors) <= values


def test_tables_name_file_line_and_column(tmp_path: Path) -> None:
    fam = tmp_path / "fam.csv"
    fam.write_text("config,params,tokens,loss,score\na,1e6,1e7,3.2,0.4\nb,2e6,x,3.0,0.5\n")
    with pytest.raises(UserError, match="line 3, column tokens: 'x' is not a number"):
        load_family(fam)
    fam.write_text("config,params,tokens,loss\na,1e6,1e7,3.2\n")
    with pytest.raises(UserError, match="line 2: give loss and score, or a checkpoint path"):
        load_family(fam)
    tr = tmp_path / "trend.csv"
    tr.write_text("model,date,params,density\nm1,2023-13-01,1e9,0.5\n")
    with pytest.raises(UserError, match="line 2, column date"):
        load_trend(tr)
    with pytest.raises(UserError, match="holdout"):
        DensingTask(holdout="9x9@1x")
    with pytest.raises(UserError, match="at least 5 reference configs"):
        DensingTask(sizes="1x8;1x16", multipliers="1")


def _synthetic_family(path: Path) -> tuple[LossLaw, Sigmoid]:
    """A published-style table from known constants (no noise)."""
    law, sig = LossLaw(300.0, 0.3, 200.0, 0.25), Sigmoid(0.7, -3.0, 2.0, 0.25)
    rows = ["config,params,tokens,loss,score"]
    for n in (1e6, 3e6, 1e7, 3e7, 1e8):
        for k in (10, 40):
            loss = float(law(n, k * n))
            rows.append(f"m{n:g}@{k},{n},{k * n},{loss!r},{float(sig(loss))!r}")
    path.write_text("\n".join(rows) + "\n")
    return law, sig


@pytest.mark.slow
def test_densing_run_with_holdout_and_published_family(tmp_path: Path) -> None:
    out = tmp_path / "run"
    opts = ("n=24,test_people=8,sizes=1x8;1x12;1x16;1x24,multipliers=1;4,holdout=1x16@4x,"
            f"context=64,reps=20,cache={tmp_path / 'family'}")
    memeval("run", "--task", f"densing:{opts}", "--system", "gpt2-tiny:size=1x8", "--out",
            str(out), timeout=800)
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    by_cfg: dict[str, list[dict]] = {}
    for p in preds:
        by_cfg.setdefault(p["meta"]["config"], []).append(p)
    assert len(by_cfg) == 9 and all(len(v) == 8 * 5 for v in by_cfg.values())
    # the fits, redone here from the records
    ref = [c for c in by_cfg if c not in ("target", "1x16@4x")]
    pts = {c: (np.mean([p["meta"]["loss"] for p in by_cfg[c]]),
               np.mean([p["meta"]["correct"] for p in by_cfg[c]])) for c in by_cfg}
    law = fit_loss_law([by_cfg[c][0]["meta"]["params"] for c in ref],
                       [by_cfg[c][0]["meta"]["tokens"] for c in ref], [pts[c][0] for c in ref])
    d = json.loads((out / "metrics.json").read_text())["details"]["densing"]
    assert d["fits"]["loss_law"]["params"]["alpha"] == pytest.approx(law.law.alpha, rel=1e-6)
    assert d["target_score"] == pytest.approx(pts["target"][1])
    if d["in_range"]:
        assert d["density"] == pytest.approx(d["n_hat"] / d["target_params"])
    else:
        assert d["n_hat"] is None and d["density"] is None and d["reason"]
    assert "holdout" in d and d["holdout"]["config"] == "1x16@4x"
    assert (out / "plots" / "densing.png").stat().st_size > 10_000
    # a second target against the same family: members come from the cache, unchanged
    again = tmp_path / "again"
    memeval("run", "--task", f"densing:{opts}", "--system", "gpt2-tiny:size=1x12", "--out",
            str(again), timeout=800)
    second = [json.loads(x) for x in (again / "predictions.jsonl").read_text().splitlines()]
    firsts = {p["meta"]["config"]: p["meta"] for p in second if "model_info" in p["meta"]}
    assert all("cached" in firsts[c]["model_info"] for c in ref)
    old = {p["sample_id"]: p["meta"]["loss"] for p in preds}
    assert all(p["meta"]["loss"] == pytest.approx(old[p["sample_id"]], rel=1e-6)
               for p in second if p["meta"]["config"] != "target")


def test_published_family_and_trend_round_trip(tmp_path: Path) -> None:
    """A family table from known constants: the fits recover them, a target's density is
    exact, and a trend table with a known doubling time is fitted back."""
    law, sig = _synthetic_family(tmp_path / "fam.csv")
    rows = load_family(tmp_path / "fam.csv")
    lf = fit_loss_law(*zip(*[(r.params, r.tokens, r.loss) for r in rows]))
    assert lf.law.alpha == pytest.approx(law.alpha, rel=1e-4)
    sf = fit_sigmoid(*zip(*[(r.loss, r.score) for r in rows]))
    assert sf.law.gamma == pytest.approx(sig.gamma, rel=1e-4)
    days = [0, 100, 200, 300, 400]
    day0 = np.datetime64("2023-01-01")
    lines = ["model,date,params,density"] + [
        f"m{i},{day0 + np.timedelta64(t, 'D')},1e9,{float(np.exp(0.007 * t))!r}"
        for i, t in enumerate(days)]
    (tmp_path / "trend.csv").write_text("\n".join(lines) + "\n")
    task = DensingTask(family=str(tmp_path / "fam.csv"), trend=str(tmp_path / "trend.csv"),
                       test_people=2, reps=5)
    assert task.configs() == ["target"]  # published rows: nothing to train or score
    from memeval.tasks.densing.trend import trend_of

    t = trend_of(task.trend_rows, {"loss_law": {"params": vars(lf.law)},
                                   "sigmoid": {"params": vars(sf.law)}}, 1e12)
    assert t["fit"]["doubling_days"] == pytest.approx(np.log(2) / 0.007, rel=1e-6)
    n_true = 5e7
    score = float(sig(law(n_true, 1e12)))
    assert effective_size(score, sf.law, lf.law, 1e12)[1] == pytest.approx(n_true, rel=1e-3)


def test_family_of_checkpoints_is_scored_as_the_table_says(tmp_path: Path) -> None:
    """A family row with a checkpoint path is scored here through lm-eval's HFLM, with the N
    and D the table gives; published rows join the fits as fixed points."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from memeval.adapters.lm.hf import smollm2_gguf
    from memeval.adapters.lm.tokenizers import load_hf_tokenizer

    tok = load_hf_tokenizer(*smollm2_gguf()).tok
    ckpt = tmp_path / "ckpt"
    GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                     num_hidden_layers=1, num_attention_heads=2,
                                     max_position_embeddings=512)).save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    _synthetic_family(tmp_path / "fam.csv")
    with (tmp_path / "fam.csv").open("a") as f:
        f.write(f"mine,123456,7890000,,,{ckpt}\n")
    (tmp_path / "fam.csv").write_text((tmp_path / "fam.csv").read_text().replace(
        "config,params,tokens,loss,score\n", "config,params,tokens,loss,score,path\n"))
    out = tmp_path / "run"
    memeval("run", "--task", f"densing:family={tmp_path / 'fam.csv'},test_people=2,reps=5",
            "--system", "gpt2-tiny:size=1x8", "--out", str(out), timeout=600)
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    mine = [p for p in preds if p["meta"]["config"] == "mine"]
    assert len(mine) == 10 and {(p["meta"]["params"], p["meta"]["tokens"]) for p in mine} == \
        {(123456.0, 7890000.0)}
    fam = json.loads((out / "metrics.json").read_text())["details"]["densing"]["family"]
    assert len(fam) == 11 and "mine" in {r["config"] for r in fam}
