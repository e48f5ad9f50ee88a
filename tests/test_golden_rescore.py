"""Golden check of the task contract: run folders written by memeval 0.1 (tests/golden_v1, results
format 1, made before the redesign; see its README) are re-scored by today's `memeval score`,
and every number of their old metrics.json must come out identical (==, not approximately).

The expected values are the old code's output, independent of the code under test. One field
changed on purpose: HaluMem estimates now carry their own invalid count (`n_invalid` was 0 in
each estimate there, the count being in the block only); the block count is still compared.
Later versions may add metrics and strata (LoCoMo 1.1: gold_ceiling, the gold stratum), never
change an old number."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import memeval
from memeval.contracts import Results

GOLDEN = Path(__file__).parent / "golden_v1"
RUNS = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
ESTIMATE_KEYS = ("n", "n_clusters", "mean", "se", "ci_t", "ci_boot", "df", "level", "method",
                 "seed", "n_invalid")
# old top-level key -> where format 2 keeps it
DETAILS = {"counts_verdicts": "verdicts", "empty_extraction": "empty_extraction",
           "times": "times", "capacity": "capacity", "checkpoints": "checkpoints"}


def old_blocks(entry: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {("overall", "overall"): entry["overall"]} if "overall" in entry else {}
    for key, by in entry.items():
        if key.startswith("by_"):
            out.update({(key[3:], value): block for value, block in by.items()})
    return out


def new_blocks(results: Results, metric: str) -> dict[tuple[str, str], Any]:
    return {(k, v): b for k, v, b in results.metrics[metric].blocks()}


def _tuples(x: Any) -> Any:
    """Comparable form: lists as tuples, floats to 12 significant digits. The bootstrap sums
    thousands of resampled values, and numpy's summation order (SIMD, pairwise blocks) may
    change the last bit between builds: seen once, -160.44783302223306 vs ...303. Any real
    change to an estimator moves far more than the 12th digit."""
    if isinstance(x, (list, tuple)):
        return tuple(_tuples(v) for v in x)
    if isinstance(x, float):
        return float(f"{x:.12g}")
    return x


@pytest.fixture(scope="module", params=RUNS)
def rescored(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[str, dict[str, Any], Results, Path]:
    name = request.param
    run = tmp_path_factory.mktemp("golden") / name
    shutil.copytree(GOLDEN / name, run)
    old = json.loads((run / "metrics.json").read_text())
    memeval("score", str(run), timeout=600)
    new = Results.model_validate_json((run / "metrics.json").read_text())
    return name, old, new, run


def test_every_old_number_is_reproduced(rescored) -> None:
    name, old, new, _ = rescored
    assert set(old["metrics"]) <= set(new.metrics), name
    assert set(new.metrics) - set(old["metrics"]) <= NEW_METRICS, name
    compared = 0
    for metric, entry in old["metrics"].items():
        nb = new_blocks(new, metric)
        for key, block in old_blocks(entry).items():
            assert key in nb, (name, metric, key)
            got = nb[key]
            assert got.n_invalid == block["n_invalid"], (name, metric, key)
            for variant in ("all", "valid"):
                want, est = block[variant], getattr(got, variant).model_dump()
                for field in ESTIMATE_KEYS:
                    if field not in want or (field == "n_invalid" and metric in HALUMEM):
                        continue
                    assert _tuples(est[field]) == _tuples(want[field]), \
                        (name, metric, key, variant, field, est[field], want[field])
                    compared += 1
            for conv, label_key in (("data", "name"), ("mem0", "name_mem0")):
                if label_key in block:
                    assert got.labels[conv] == block[label_key]
    assert compared > 100, (name, compared)


NEW_METRICS = {"gold_ceiling"}  # LoCoMo 1.1: the audit's ceiling, beside the old metrics
HALUMEM = {"memory_recall", "weighted_recall", "memory_accuracy", "target_precision", "fmr",
           "update_correct", "update_hallucination", "update_omission", "update_other",
           "qa_correct", "qa_hallucination", "qa_omission", "typewise_accuracy", "extraction_f1"}


def test_task_tables_judges_and_plots_are_kept(rescored) -> None:
    name, old, new, run = rescored
    for old_key, new_key in DETAILS.items():
        if old_key in old:  # format 2 may add keys (e.g. new verdict counts), never change one
            got = new.details[new_key]
            want = old[old_key]
            assert (got == want if not isinstance(want, dict) else
                    {k: got.get(k) for k in want} == want), (name, old_key)
    if "judges" in old:
        assert new.judges == old["judges"]
    assert len(new.plots) == len(old.get("plots", [])), name  # `memeval score` keeps plots
    for p in new.plots:
        assert (run / p).stat().st_size > 1000, p


def test_rescoring_twice_gives_the_same_file(rescored) -> None:
    """`memeval score` reproduces metrics.json exactly (plots included)."""
    name, _, _, run = rescored
    first = (run / "metrics.json").read_bytes()
    memeval("score", str(run), timeout=600)
    assert (run / "metrics.json").read_bytes() == first, name


def test_a_format_1_folder_is_refused_with_the_way_out(tmp_path: Path) -> None:
    run = tmp_path / "old"
    shutil.copytree(GOLDEN / "rrr", run)
    for cmd in (["show", str(run)], ["compare", str(run), str(run)], ["report", str(run)]):
        res = memeval(*cmd, check=False)
        assert res.returncode == 2 and "Traceback" not in res.stderr, cmd
        assert "results format 1" in res.stderr and f"memeval score {run}" in \
            res.stderr.replace("\n", ""), res.stderr
