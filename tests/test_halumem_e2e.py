"""HaluMem packs end to end through the runner: the oracle ceiling, real data, resume."""

import json
import pytest

from helpers import memeval
from memeval.audit import verify_run
from shared_data import HALUMEM_USER, shared_path


def overall(metrics, name):
    return metrics["metrics"][name]["overall"]["all"]["mean"]


@pytest.mark.slow
def test_oracle_with_exact_judge_is_perfect_on_synth(tmp_path, llm_spec):
    out = tmp_path / "oracle"
    memeval("run", "--task", "halumem-synth:size=tiny,answerer=oracle", "--system", "oracle",
            "--judge", "exact", "--llm", llm_spec, "--out", str(out))
    m = json.loads((out / "metrics.json").read_text())
    for name in ("memory_recall", "fmr", "update_correct", "qa_correct", "memory_accuracy",
                 "extraction_f1"):
        assert overall(m, name) == 1.0, name
    assert m["metrics"]["memory_recall"]["overall"]["all"]["n_clusters"] == 2
    counts = m["details"]["verdicts"]
    assert counts["update"] > 0 and counts["interference"] > 0 and m["no_items"] == []
    assert verify_run(out).ok


@pytest.mark.slow
def test_real_user_runs_all_three_task_groups(tmp_path, llm_spec):
    out = tmp_path / "real"
    memeval("run", "--task", "halumem", "--data", str(shared_path(HALUMEM_USER)),
            "--system", "rag-bm25", "--limit-sessions", "2", "--judge", "exact",
            "--llm", llm_spec, "--out", str(out))
    m = json.loads((out / "metrics.json").read_text())
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"]["predictions"] == 2 and man["counts"]["errors"] == 0
    for name in ("memory_recall", "memory_accuracy", "qa_correct"):
        assert name in m["metrics"]
    # the first two sessions of this user hold no distractor and no update: said, not zeroed
    assert {"fmr", "update_correct"} <= set(m["no_items"]) and "fmr" not in m["metrics"]
    times = m["details"]["times"]
    assert times["sessions"] == 2 and times["extracted_memories"] > 0
    assert man["task"]["data"]["license"] == "CC BY-NC-ND 4.0"


def test_missing_data_names_the_way_out():
    proc = memeval("run", "--suite", "halumem", "--llm", "http://127.0.0.1:9/v1::m", check=False)
    assert proc.returncode == 2 and "--data PATH" in proc.stderr and "halumem-synth" in proc.stderr
    assert "Traceback" not in proc.stderr
