"""The plug-in path of the task contract: a task pack and a memory system that live outside
memeval (tests/plugin_pack, registered by entry points only, on PYTHONPATH) go through
`memeval run`, `score`, `show`, `compare`, `report` and the leaderboard data layer with no
edit to memeval. The expected values are worked out from the toy data in the comments."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import memeval
from memeval.leaderboard import data
from memeval.leaderboard.ranking import rank_runs

PACK = Path(__file__).parent / "plugin_pack"
ENV = {"PYTHONPATH": os.pathsep.join([str(PACK), os.environ.get("PYTHONPATH", "")])}


def cli(*args: str, check: bool = True):
    return memeval(*args, env=ENV, check=check, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("plugin-runs")
    a, b = root / "full", root / "forgetful"
    cli("run", "--task", "toy-recall", "--system", "toy-mem", "--judge", "rule",
        "--toy-users", "8", "--out", str(a))
    cli("run", "--task", "toy-recall", "--system", "toy-mem:forget=true", "--judge", "rule",
        "--toy-users", "8", "--out", str(b))
    return root, a, b


def test_ls_lists_the_plugins() -> None:
    out = cli("ls", "-v").stdout
    assert "toy-recall" in out and "toy-mem" in out and "--toy-users" in out


def test_run_writes_the_declared_metrics(runs) -> None:
    _, a, b = runs
    res = json.loads((a / "metrics.json").read_text())
    assert res["format"] == 2 and res["task"] == "toy-recall"
    assert set(res["metrics"]) == {"hit", "miss_rate", "judged_hit"}
    # 8 users x 3 facts, the full memory answers every one: hit 1, miss 0
    assert res["metrics"]["hit"]["overall"]["all"]["mean"] == 1.0
    assert res["metrics"]["hit"]["overall"]["all"]["n_clusters"] == 8
    assert res["judges"] == ["toy-rule-v1"] and res["notes"] == ["toy: 24 questions"]
    forgetful = json.loads((b / "metrics.json").read_text())
    # forget drops turns 1 of 0..2: one question in three goes unanswered
    assert forgetful["metrics"]["miss_rate"]["overall"]["all"]["mean"] == pytest.approx(1 / 3)
    assert forgetful["metrics"]["judged_hit"]["overall"]["all"]["mean"] == pytest.approx(2 / 3)
    verdicts = (a / "verdicts.jsonl").read_text().splitlines()
    assert len(verdicts) == 24 and json.loads(verdicts[0])["kind"] == "judged_hit"


def test_score_reproduces_the_results_file(runs, tmp_path: Path) -> None:
    _, a, _ = runs
    copy = tmp_path / "copy"
    shutil.copytree(a, copy)
    before = (copy / "metrics.json").read_bytes()
    (copy / "metrics.json").unlink()
    cli("score", str(copy))
    assert (copy / "metrics.json").read_bytes() == before


def test_show_and_compare_read_the_declarations(runs) -> None:
    _, a, b = runs
    shown = cli("show", str(a)).stdout
    assert "judged_hit" in shown and "toy: 24 questions" in shown
    out = cli("compare", str(a), str(b), "--n-boot", "2000").stdout
    # miss_rate is declared lower-is-better: the full memory ranks first on it
    assert "miss_rate (lower is better)" in out and "hit (higher is better)" in out
    assert "hit" in out and "toy-mem:forget=True" in out


def test_report_fills_the_card_from_the_declarations(runs) -> None:
    _, a, b = runs
    cli("report", str(a), "--compare", str(b))
    md = (a / "report.md").read_text()
    assert "miss_rate" in md and "toy: answers left empty" in md  # the declared card row
    assert "none: generated" in md  # the declared data defects


def test_leaderboard_data_layer_ranks_the_plugin_runs(runs) -> None:
    root, _, _ = runs
    scan = data.scan(root, data.RunCache())
    assert not scan.skipped and {r.task for r in scan.runs} == {"toy-recall"}
    long = data.long_table(scan.runs)
    assert set(long["family"]) == {"correctness", "faithfulness"}
    assert set(long[long["metric"] == "miss_rate"]["lower is better"]) == {True}
    ranks = rank_runs(scan.runs).ranks
    assert ranks[("full", "hit")] == "1" and ranks[("forgetful", "hit")] == "2"
    assert ranks[("full", "miss_rate")] == "1"


def test_a_suite_can_end_with_the_paired_comparison(tmp_path: Path) -> None:
    suite = tmp_path / "toy-suite.yaml"
    suite.write_text("name: toy\ntasks:\n  - task: toy-recall\nsystems: [toy-mem, "
                     "'toy-mem:forget=true']\njudge: rule\ncompare: true\n"
                     "epilogue: what the toy can show\n")
    out = cli("run", "--suite", str(suite), "--out", str(tmp_path / "runs")).stdout
    assert "paired comparison on toy-recall" in out and "paired differences A - B" in out
    assert out.rstrip().endswith("what the toy can show")
