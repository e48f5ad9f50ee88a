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


@pytest.mark.slow
def test_resumed_judging_reuses_stored_verdicts_and_the_cache(tmp_path, llm_spec):
    """A run killed during judging loses at most an unfinished batch: finished sessions'
    verdicts are kept as stored, and the lost batch is re-asked from the response cache."""
    out = tmp_path / "resume"
    args = ["run", "--task", "halumem-synth:size=tiny", "--limit", "2", "--system", "oracle",
            "--judge", "llm", "--llm", llm_spec, "--out", str(out)]
    memeval(*args)
    verdicts = out / "verdicts.jsonl"
    rows = [json.loads(x) for x in verdicts.read_text().splitlines()]
    first = rows[0]["prediction_id"]
    kept = [r for r in rows if r["prediction_id"] == first]
    lost = [r for r in rows if r["prediction_id"] != first]
    assert kept and lost
    metrics = (out / "metrics.json").read_bytes()
    # What a kill mid-judging leaves: the first batch whole, the second one torn.
    torn = "".join(json.dumps(r) + "\n" for r in kept) + json.dumps(lost[0])[:40]
    verdicts.write_text(torn)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "aborted"
    (out / "manifest.json").write_text(json.dumps(manifest))
    memeval(*args)
    judge = json.loads((out / "manifest.json").read_text())["cost"]["judge"]
    assert judge["calls"] >= len(lost) - sum(r["judge"].startswith("rule:") for r in lost)
    assert judge["cache_hits"] == judge["calls"]  # not one verdict asked of the server again
    final = [json.loads(x) for x in verdicts.read_text().splitlines()]
    assert [r for r in final if r["prediction_id"] == first] == kept
    assert len(final) == len(rows)
    assert (out / "metrics.json").read_bytes() == metrics  # the same results as before
    assert verify_run(out).ok
