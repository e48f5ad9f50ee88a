"""The knowledge-capacity pack end to end at toy scale: samples, training, scores, R table, plot."""

import asyncio
import math

import pytest

from memeval.adapters.lm.hf import TinyGPT2
from memeval.run_context import RunContext
from memeval.errors import UserError
from memeval.metrics import capacity as cap
from memeval.tasks.capacity.task import CapacityTask


def _run(task: CapacityTask):
    system = TinyGPT2(None, size="1x8", device="cpu")
    ctx = RunContext(llm=None, seed=0, system_name="gpt2-tiny")
    samples = list(task.samples())

    async def go():
        out = []
        for cfg in task.configs():
            group = [s for s in samples if s.group == cfg]
            out += [p async for p in task.run_group(system, cfg, group, ctx)]
        return out

    return samples, asyncio.run(go())


@pytest.mark.parametrize("dataset", ["bioD", "bioS-simple"])
def test_capacity_pack_end_to_end(tmp_path, dataset):
    task = CapacityTask(limit=6, dataset=dataset, n=12, sizes="1x8;1x16", exposures="2",
                        k=2, d=8, plots_dir=str(tmp_path))
    assert task.needs_llm is False
    samples, preds = _run(task)
    assert len(samples) == len(preds) == 2 * 6  # `limit` people per config
    assert {p.meta["config"] for p in preds} == {"1x8@2x", "1x16@2x"}
    first = next(p for p in preds if "training" in p.meta)
    assert first.meta["training"]["steps"] >= 1 and first.meta["params"] > 0
    assert first.meta["params"] <= first.meta["params_total"]
    scores = [s for p in preds for s in task.score(p)]
    out = task.aggregate(scores, preds, None)
    rows = {r["config"]: r for r in out.details["capacity"]}
    assert set(rows) == {"1x8@2x", "1x16@2x"}
    for cfg, r in rows.items():
        # R from the table equals the formula on the mean losses of that config
        mine = [p for p in preds if p.meta["config"] == cfg]
        p = {x: sum(q.meta[x] for q in mine) / len(mine) for x in ("p1", "p2", "p3")
             if x in mine[0].meta}
        assert r["R"] == pytest.approx(task.corpus.bits(p, 12) / r["params"], rel=1e-9)
        assert r["R_max"] == pytest.approx(task.corpus.max_bits(12) / r["params"])
        assert r["R"] < r["R_max"]
        lo, hi = r["R_ci"]
        assert lo <= r["R"] <= hi
    assert (tmp_path / "capacity_bits.png").stat().st_size > 0
    assert "bits_per_param" in out.metrics and "p1" in out.metrics
    assert out.plots == [tmp_path / "capacity_bits.png"]


def test_bios_task_uses_the_bios_formula():
    task = CapacityTask(dataset="bioS", n=50)
    assert task.corpus.max_bits(50) == pytest.approx(cap.bios_max_bits(50))
    perfect = task.corpus.bits({"p1": math.log(50), "p2": 0.0}, 50)
    assert perfect == pytest.approx(cap.bios_max_bits(50))


def test_bad_options_are_user_errors():
    with pytest.raises(UserError):
        CapacityTask(dataset="bioX")
    with pytest.raises(UserError):
        CapacityTask(exposures="0")
    with pytest.raises(UserError):
        CapacityTask(dataset="bioD", d=300, l=2, t=16)


def test_training_is_seeded_and_its_provenance_recorded(tmp_path):
    def once() -> list:
        task = CapacityTask(limit=4, dataset="bioD", n=8, sizes="1x8", exposures="3", k=2, d=8,
                            plots_dir=str(tmp_path))
        return _run(task)[1]

    first, again = once(), once()
    assert [p.output for p in first] == [p.output for p in again]  # the printed losses
    def training(preds: list) -> dict:
        tr = dict(next(p.meta["training"] for p in preds if "training" in p.meta))
        tr.pop("seconds")  # wall time, the one thing a rerun may change
        return tr

    tr = training(first)
    assert tr == training(again)  # same steps, tokens and final loss
    assert tr["steps"] > 0 and tr["tokens"] > 0
    (phase,) = tr["model_info"]["phases"]  # optimizer and schedule are in the manifest's data
    assert (phase["optimizer"], phase["schedule"]) == ("adamw", "cosine")
    assert phase["steps"] == tr["steps"] and phase["tokens"] == tr["tokens"]


@pytest.mark.parametrize("dataset", ["bioD", "bioS-simple"])
def test_cached_records_give_the_same_training_stream(dataset):
    """Corpora whose record does not change between exposures are encoded once per person
    (train.windows); the windows and the used token ids equal a re-encoding at every exposure."""
    from memeval.tasks.capacity.corpus import make_corpus
    from memeval.tasks.capacity.train import SegmentEncoder, windows

    corpus = make_corpus(dataset, 15, 3, **({"k": 3, "d": 8} if dataset == "bioD" else {}))
    assert corpus.fixed_records
    model = TinyGPT2(None, size="1x8", device="cpu")
    model.prepare(corpus.vocab_texts(), seed=0)

    def stream() -> tuple[list[list[int]], set[int]]:
        used: set[int] = set()
        wins = list(windows(corpus, SegmentEncoder(model), model.tokenizer.eos_id, 4, 1, 48,
                            used))
        return wins, used

    cached = stream()
    corpus.fixed_records = False  # every exposure re-renders and re-encodes the record
    fresh = stream()
    assert cached == fresh and len(cached[0]) > 4
    assert make_corpus("bioS", 5, 0).fixed_records is False  # bioS re-draws its layouts
