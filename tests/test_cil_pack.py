"""The CIL pack end to end on the bundled digits: memeval's MEMO and DER through `memeval
run`, a deliberately over-budget learner (a fault injector: a real MEMO that never trims its
exemplars), and every Avalanche learner through a suite in its own environment (the
optional extra that ./scripts/test installs; missing, the test fails and says how).

Budgets and parameter counts are recomputed here from hand arithmetic on the MLP ladder
(mlp<w>: generalized 64w + w + w^2 + w, specialized w^2 + w), never read back from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import memeval
from memeval.adapters.cil.avalanche import NOT_INSTALLED, avalanche_python
from memeval.adapters.cil.expandable import MEMO
from memeval.records import Sample
from memeval.tasks.cil.task import CILTask

pytestmark = pytest.mark.slow


def mlp_counts(w: int) -> tuple[int, int]:
    return 64 * w + w + w * w + w, w * w + w


def budget(w: int, tasks: int = 5, base: int = 100) -> int:
    return 4 * sum(mlp_counts(w)) * tasks + base * 64


def predictions(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines() if x]


def check_within_budget(preds: list[dict]) -> None:
    for p in preds:
        if p["meta"].get("infeasible"):
            continue
        assert p["error"] is None, p["error"]
        w = int(p["meta"]["point"].removeprefix("mlp"))
        assert p["meta"]["budget_bytes"] == budget(w)
        assert len(p["meta"]["memory"]) == 5  # checked after every task
        for parts in p["meta"]["memory"]:
            assert parts["counted_bytes"] <= budget(w), (p["sample_id"], parts)


@pytest.mark.parametrize("learner", ["memo", "der"])
def test_expansion_learners_fill_but_never_exceed_the_budget(learner, tmp_path):
    run = tmp_path / learner
    memeval("run", "--task", "cil:ladder=mlp16;mlp32,orders=3,epochs=4", "--system", learner,
            "--out", str(run))
    preds = predictions(run)
    assert len(preds) == 6
    check_within_budget(preds)
    g, s = mlp_counts(16)
    for p in preds:
        last = p["meta"]["memory"][-1]
        if p["meta"]["point"] == "mlp16":  # T = 5 tasks of 2 classes
            want = 4 * (g + 5 * s) if learner == "memo" else 4 * 5 * (g + s)
            assert last["parameter_bytes"] == want
            assert p["meta"]["plan"]["exemplars"] == (
                (budget(16) - want) // 64 if learner == "memo" else 100)
        # each class keeps exemplars // 10 at the end (fewer where a class has fewer images)
        assert last["exemplars"] <= p["meta"]["plan"]["exemplars"]
        # it learns: well above chance (1 / classes seen) at every stage
        assert min(p["meta"]["stage_accuracy"]) > 0.5, p["meta"]["stage_accuracy"]
    results = json.loads((run / "metrics.json").read_text())
    assert {"average_accuracy", "last_accuracy", "forgetting", "memory_used"} <= set(
        results["metrics"])
    auc = results["details"]["cil"]["auc"]
    assert auc["orders"] == 3 and 0 < auc["auc_a"]["mean"]
    assert (run / "plots" / "cil_ladder.png").stat().st_size > 10_000


class HoardingMEMO(MEMO):
    """Fault injector: a real MEMO that keeps every image it has seen as an exemplar."""

    name = "memo"

    def _update_exemplars(self, experience) -> None:
        import numpy as np

        self.mem_x = np.concatenate([self.mem_x, experience.x])
        self.mem_y = np.concatenate([self.mem_y, experience.y])


def test_an_over_budget_learner_fails_its_sample_with_the_numbers():
    task = CILTask(ladder="mlp16", orders=1, epochs=1)
    learner = HoardingMEMO()
    meta, err = task.run_sample(learner, Sample(sample_id="mlp16/order00", cluster="order00",
                                                 group="mlp16", input={"point": "mlp16",
                                                                       "order": 0}))
    assert err is not None and err.startswith("over budget after task ")
    assert f"> budget {budget(16):,} B" in err and "exemplars" in err
    over = meta["memory"][-1]
    assert over["counted_bytes"] > budget(16)
    assert f"{over['counted_bytes']:,} B" in err


def test_every_avalanche_learner_in_a_suite(tmp_path):
    assert avalanche_python() is not None, NOT_INSTALLED
    learners = ["naive", "replay", "icarl", "gdumb", "lwf", "ewc", "memo"]
    suite = tmp_path / "cil-mini.yaml"
    suite.write_text(json.dumps({
        "name": "cil-mini", "description": "two points, two orders",
        "tasks": [{"task": "cil", "options": {"ladder": "mlp8;mlp32", "orders": 2,
                                              "epochs": 3}}],
        "systems": learners, "seeds": [0], "compare": True}))
    out = tmp_path / "runs"
    proc = memeval("run", "--suite", str(suite), "--out", str(out))
    runs = {p.name.split("__")[1]: p for p in out.iterdir() if p.is_dir() and "__" in p.name}
    assert set(learners) <= set(runs), sorted(runs)
    for name in learners:
        preds = predictions(runs[name])
        check_within_budget(preds)
        info = json.loads((runs[name] / "manifest.json").read_text())["system"]["info"]
        if name != "memo":
            assert info["library"]["avalanche"] == "0.6.0"
        infeasible = [p for p in preds if p["meta"].get("infeasible")]
        if name == "ewc":  # 3 copies of mlp32 (3 x 4 x 4,192 B) do not fit mlp8's budget
            assert {p["meta"]["point"] for p in infeasible} == {"mlp8"}
            need, have = 3 * 4 * sum(mlp_counts(32)), budget(8)
            assert (need, have) == (50_304, 19_680)
            assert "50,304 B > 19,680 B" in infeasible[0]["meta"]["infeasible"]
        else:
            assert not infeasible
        for p in preds:
            if p["meta"].get("infeasible"):
                continue
            last = p["meta"]["memory"][-1]
            plan = p["meta"]["plan"]
            stored_params = last["parameter_bytes"] // 4
            want = {"ewc": 3 * sum(mlp_counts(32))}.get(name, sum(mlp_counts(32)))
            if name != "memo":
                assert stored_params == want, (name, last)
            if name in ("replay", "gdumb", "icarl"):  # a buffer that fills to its plan
                assert 0 < last["exemplars"] <= plan["exemplars"]
            if name in ("naive", "lwf", "ewc"):
                assert last["exemplars"] == 0
            if name in ("lwf", "icarl"):  # the teacher is reported, not counted
                assert last["teacher_bytes"] == 4 * sum(mlp_counts(32))
    across = out / "cil__across_runs"
    assert (across / "cil_ladder.csv").is_file() and (across / "cil_ladder.png").is_file()
    assert "paired comparison on cil" in proc.stdout
