"""rrr pack: study/foil sets, rule-based foils, and a tiny model that recognises what it studied."""

import asyncio
import json

import numpy as np
import pytest

from memeval.run_context import RunContext
from memeval.tasks.rrr import data, rewrite
from memeval.tasks.rrr.task import RRRTask


@pytest.fixture(scope="module")
def study():
    return data.build(n=30, n_unstructured=6, seed=5)


def test_pools_are_disjoint_and_natural_items_long(study):
    natural = [p for p in study.pairs if p.kind in data.NATURAL_KINDS]
    studied = {p.studied for p in natural}
    novel = {p.foil for p in natural if p.kind == "novel"}
    assert len(studied) == 30 and len(novel) == 30
    assert all(len(s) > data.MIN_CHARS for s in studied | novel)
    assert not studied & novel
    assert not (studied | novel) & set(study.unrelated)  # retention text never studied
    assert all(" and shared " not in s for s in studied)  # no image-caption turns


def test_every_item_has_one_foil_per_kind(study):
    kinds: dict[str, set[str]] = {}
    for p in study.pairs:
        kinds.setdefault(p.item_id, set()).add(p.kind)
        assert p.studied == study.items[p.item_id] and p.foil != p.studied
    nat = [k for k in kinds if k.startswith("nat/")]
    assert all(kinds[k] == {"novel", "paraphrase", "synonym"} for k in nat)
    assert sum(k.startswith("rnd/") for k in kinds) == 6
    assert sum(k.startswith("gib/") for k in kinds) == 6
    assert len({p.pair_id for p in study.pairs}) == len(study.pairs)


def test_every_natural_item_admits_both_rewrites():
    big = data.build(n=400, n_unstructured=0, kinds=("novel", "paraphrase", "synonym"), seed=2)
    for p in big.pairs:
        assert p.foil and p.foil != "None" and p.foil != p.studied
    nat = {p.studied for p in big.pairs}
    assert all(rewrite.swap_sites(s) and rewrite.paraphrase(s) for s in nat)


def test_synonym_foil_changes_exactly_one_word_and_paraphrase_several(study):
    for p in study.pairs:
        a, b = p.studied.split(), p.foil.split()
        if p.kind == "synonym":
            diff = sum(x != y for x, y in zip(a, b))
            assert diff == 1 or (diff >= 1 and len(a) != len(b))  # "lot" -> "great deal"
        if p.kind == "paraphrase":
            assert len(rewrite.paraphrase_sites(p.studied)) >= rewrite.MIN_PARAPHRASE_EDITS


def test_unstructured_items():
    rng = np.random.default_rng(0)
    g = rewrite.letter_shuffle("Hello, World! It's 2023.", rng)
    assert len(g) == 24 and g[5:7] == ", " and g[-5:] == "2023."
    assert sorted(c for c in g if c.isalpha()) == sorted("helloworldits")
    s = data.build(n=2, n_unstructured=4, kinds=("random", "gibberish"), seed=1)
    rnd = [p for p in s.pairs if p.kind == "random"]
    assert all(len(p.studied.split()) == data.RANDOM_WORDS == len(p.foil.split()) for p in rnd)
    assert not any(p.kind == "novel" for p in s.pairs)


def test_rewrites_keep_case():
    assert rewrite.paraphrase("Really, I'm so happy that it's a great day!") == \
        "Truly, I am so glad that it is a terrific day!"
    assert rewrite.synonym_swap("no match here", np.random.default_rng(0)) is None


def test_unknown_kind_is_a_user_error():
    from memeval.errors import UserError

    with pytest.raises(UserError, match="unknown foil kind"):
        data.build(n=2, n_unstructured=0, kinds=("novel", "antonym"))


def _run(seed: int = 0):
    from memeval.adapters.lm.hf import TinyGPT2

    task = RRRTask(limit=12, n_unstructured=3, exposures="0,1,2", retention_steps="2",
                   lr=3e-3, batch_size=4, retention_batch=8, seed=seed)
    system = TinyGPT2(None, size="1x32", device="cpu")
    samples = list(task.samples())
    ctx = RunContext(llm=None, seed=seed, system_name="gpt2-tiny")

    async def go():
        return [p async for p in task.run_group(system, "study", samples, ctx)]

    preds = asyncio.run(go())
    assert len(preds) == len(samples)
    return task, preds


@pytest.mark.slow
def test_tiny_model_recognises_studied_items_and_training_is_seeded():
    task, preds = _run()
    scores = [s for p in preds for s in task.score(p)]
    metrics = task.aggregate(scores, preds, None).metrics
    acc = metrics["recognition"].strata["cell"]["novel@E2"].all.mean
    assert acc >= 0.75  # chance is 0.5; 12 studied items vs 12 unseen turns
    rec = [p for p in preds if p.meta["checkpoint"] == "E2" and "/recog/" in p.sample_id]
    assert np.mean([p.meta["loss_studied"] for p in rec]) < np.mean(
        [p.meta["loss_foil"] for p in rec])
    assert {"recall_exact", "recall_rouge_l", "rouge_faithful"} <= set(metrics)
    assert {p.meta["checkpoint"] for p in preds} == {"E0", "E1", "E2", "R2"}
    assert {p.meta["train_steps"] for p in preds if p.meta["checkpoint"] == "E0"} == {0}
    _, again = _run()
    fmt = [f"{p.meta.get('loss_studied', 0):.6f} {p.output}" for p in preds]
    assert fmt == [f"{p.meta.get('loss_studied', 0):.6f} {p.output}" for p in again]


@pytest.mark.slow
def test_smollm2_goes_through_memeval_run(tmp_path):
    """The pretrained system as a user runs it: `memeval run` trains SmolLM2-135M (weights from
    the bundled GGUF) on 3 studied sentences, probes, writes results, plots and a sealed log."""
    from helpers import memeval

    out = tmp_path / "rrr-smollm2"
    memeval("run", "--task", "rrr:n=3,n_unstructured=1,exposures=0;1,retention_steps=1,"
            "batch_size=2,eval_batch=4", "--system", "smollm2-135m", "--out", str(out),
            timeout=800)
    res = json.loads((out / "metrics.json").read_text())
    assert {"recognition", "recall_exact", "recall_rouge_l"} <= set(res["metrics"])
    cells = set(res["metrics"]["recognition"]["strata"]["cell"])
    assert {c.split("@")[1] for c in cells} == {"E0", "E1", "R1"}
    assert res["plots"] and all((out / p).stat().st_size > 1000 for p in res["plots"])
    man = json.loads((out / "manifest.json").read_text())
    assert man["setting"] == "parametric-only" and man["llm"] == {}  # no LLM server started
    assert memeval("audit", "verify", str(out)).returncode == 0
