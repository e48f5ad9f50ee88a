"""`memeval compare` on real runs: refusals, identity, a real pair, JSON, ranks with ties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import memeval_runs as mr
from memeval.comparison import CompareReport, compare_runs
from memeval.errors import UserError
from memeval.runs import parse_stratum

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair() -> tuple[Path, Path]:
    return mr.bm25(), mr.no_memory()


def test_refuses_runs_on_other_data(pair: tuple[Path, Path]) -> None:
    # Same questions (cache hits), other bytes: a different data sha256 must be refused.
    other = mr.run("bm25-otherdata", "--task", "locomo", "--data",
                   str(mr.locomo_subset(tag="x")), "--system", "rag-bm25:k=2")
    res = mr.memeval("compare", str(pair[0]), str(other), check=False)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "data sha256 differs" in res.stderr and "Traceback" not in res.stderr
    with pytest.raises(UserError, match="data sha256 differs"):
        compare_runs([pair[0], other])


def test_refuses_runs_of_another_task_version(pair: tuple[Path, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A real run made by a LoCoMo pack that reports another version (patched in this process).
    from memeval import cli
    from memeval.tasks.locomo.task import LoCoMoTask

    current = LoCoMoTask.version
    monkeypatch.setattr(LoCoMoTask, "version", "0.9-test")
    monkeypatch.setenv("MEMEVAL_CACHE_DIR", str(mr.CACHE))
    out = tmp_path / "old-version"
    assert cli.main(["run", "--task", "locomo", "--data", str(mr.locomo_subset()), "--system",
                     "no-memory", "--limit", "20", "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["task"]["version"] == "0.9-test"
    with pytest.raises(UserError, match=f"task version differs.*'{current}'.*'0.9-test'"):
        compare_runs([pair[1], out])


def test_run_against_its_reproduction_is_identical(pair: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    again = tmp_path / "again"
    res = mr.memeval("reproduce", str(pair[0]), "--out", str(again))
    assert "all metrics within the original CIs" in res.stdout
    rep = json.loads((again / "reproduction.json").read_text())
    assert rep["checks"] and not any(c["differs"] for c in rep["checks"])
    out = compare_runs([pair[0], again], n_boot=2000, n_perm=2000)
    assert out.pairs
    for p in out.pairs:
        assert p.diff == 0.0 and p.ci == (0.0, 0.0), p
        assert p.p_raw == 1.0 and p.p_corrected == 1.0 and not p.significant
        assert p.cohens_d == 0.0
    assert all(e.rank == 1 and e.shared for es in out.rankings.values() for e in es)


def test_memory_vs_no_memory_output_and_json(pair: tuple[Path, Path], tmp_path: Path) -> None:
    js = tmp_path / "cmp.json"
    res = mr.memeval("compare", str(pair[0]), str(pair[1]), "--json", str(js),
                     "--correction", "fdr_bh")
    assert "fdr_bh" in res.stdout and "(all)" in res.stdout  # method and estimator are stated
    rep = CompareReport.model_validate_json(js.read_text())
    assert rep.correction == "fdr_bh" and [r.system for r in rep.runs] == ["rag-bm25",
                                                                           "no-memory"]
    assert set(rep.metrics) == {"f1_official", "f1_set", "bleu1"}
    by = {p.metric: p for p in rep.pairs}
    f1 = by["f1_official"]
    assert (f1.n, f1.n_clusters) == (40, 10) and not f1.binary and f1.test == "cluster_signflip"
    assert f1.wilcoxon is not None and f1.mcnemar is None and f1.signflip["exact"]
    assert f1.ci is not None and f1.ci[0] <= f1.diff <= f1.ci[1]
    assert f1.diff == pytest.approx(f1.mean_a - f1.mean_b)
    assert f1.mde is not None and f1.mde > 0 and -1 <= f1.cliffs_delta <= 1
    # bleu1/f1_set need a gold answer: category-5 items have none, so 10 items there
    assert by["f1_set"].n == 10
    for p in rep.pairs:  # every test corrected, fdr_bh never below the raw p
        assert p.p_corrected is not None and p.p_corrected >= p.p_raw - 1e-12


def test_binary_stratum_uses_exact_mcnemar(pair: tuple[Path, Path]) -> None:
    rep = compare_runs(list(pair), ["f1_official"], stratum=parse_stratum(["category=5"]),
                       n_boot=2000, n_perm=2000)
    (p,) = rep.pairs
    assert p.binary and p.test == "mcnemar_exact" and p.n == 30
    assert p.mcnemar is not None and p.p_raw == p.mcnemar["pvalue"]
    assert p.signflip["pvalue"] is not None  # the cluster test is reported beside it


def test_ranks_count_within_a_setting_and_cross_setting_pairs_are_labelled(
        pair: tuple[Path, Path]) -> None:
    trunc = mr.bm25_truncated()
    rep = compare_runs([pair[0], pair[1], trunc], ["f1_official"],
                       stratum={"category": "5"}, n_boot=2000, n_perm=2000)
    sig = {(p.a, p.b): p for p in rep.pairs}
    bm, nm, tr = (r.label for r in rep.runs)
    # preconditions on the real data: the one-token answers lose every refusal
    assert sig[(bm, tr)].significant and sig[(nm, tr)].significant, rep.pairs
    ranks = {e.run: e for e in rep.rankings["f1_official"]}
    assert ranks[nm].setting == "parametric-only" and ranks[bm].setting == "online-retrieval"
    # within online retrieval the truncated run is beaten: 1 and 2, not shared
    assert (ranks[bm].rank, ranks[tr].rank) == (1, 2) and not ranks[tr].shared
    # no-memory beats the truncated run too, but in another setting: it does not rank it
    assert ranks[nm].rank == 1 and not ranks[nm].shared
    assert rep.cross_setting and any(n.startswith("cross-setting comparison") for n in rep.notes)
    same = compare_runs([pair[0], trunc], ["f1_official"], n_boot=500, n_perm=500)
    assert not same.cross_setting and not any("cross-setting" in n for n in same.notes)


def test_unknown_metric_and_bad_stratum_are_user_errors(pair: tuple[Path, Path]) -> None:
    res = mr.memeval("compare", str(pair[0]), str(pair[1]), "--metric", "f1_offical",
                     check=False)
    assert res.returncode == 2 and "did you mean 'f1_official'" in res.stderr
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_stratum(["category"])


def test_reproduce_flags_metrics_that_moved_and_exits_1(tmp_path: Path) -> None:
    """A real rerun whose outcome differs: the data's gold answers changed after the original
    run (e.g. a corrected key), so the same answers now score otherwise."""
    data = tmp_path / "locomo.json"
    data.write_bytes(mr.locomo_subset().read_bytes())
    original = tmp_path / "original"
    mr.memeval("run", "--task", "locomo:categories=4", "--data", str(data), "--system",
               "rag-bm25:k=2", "--out", str(original))  # answers: cache hits of mr.bm25()
    before = json.loads((original / "metrics.json").read_text())
    assert before["metrics"]["f1_official"]["overall"]["all"]["mean"] > 0  # precondition
    convs = json.loads(data.read_text())
    for c in convs:
        for q in c["qa"]:
            if q["category"] == 4:
                q["answer"] = "zzz qqq"  # no answer can share a token with this
    data.write_text(json.dumps(convs))
    res = mr.memeval("reproduce", str(original), "--out", str(tmp_path / "again"), check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "differ beyond the original CI: " in res.stdout and "f1_official" in res.stdout
    assert "the data file changed since the original run" in res.stderr
    rep = json.loads((tmp_path / "again" / "reproduction.json").read_text())
    moved = {c["metric"]: c for c in rep["checks"]}
    assert moved["f1_official"]["differs"] and moved["f1_official"]["rerun"] == 0.0
