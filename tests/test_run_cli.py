"""`memeval run/score/show/ls` end to end, on real LoCoMo data and the real embedded LLM."""

import json

import pytest

from helpers import memeval
from memeval.audit import verify_run
from shared_data import LOCOMO, shared_path


@pytest.fixture(scope="module")
def bm25_run(tmp_path_factory, llm_spec):
    out = tmp_path_factory.mktemp("runs") / "bm25"
    proc = memeval("run", "--task", "locomo", "--system", "rag-bm25", "--limit", "12",
                   "--llm", llm_spec, "--out", str(out), "--data", str(shared_path(LOCOMO)))
    return out, proc


@pytest.mark.slow
def test_run_writes_the_whole_run_folder(bm25_run):
    out, proc = bm25_run
    for name in ("manifest.json", "predictions.jsonl", "scores.jsonl", "metrics.json",
                 "audit.jsonl"):
        assert (out / name).exists(), name
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 12 and len({p["sample_id"] for p in preds}) == 12
    assert all(p["error"] is None and p["output"] for p in preds)
    assert all(p["retrieved"] for p in preds)  # rag-bm25 retrieved turns for every question
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["task"]["data"]["sha256"].startswith("79fa87e9")
    assert man["git"]["commit"] is not None and "dirty" in man["git"]
    assert man["llm"]["model"] == "smollm2-135m-instruct" and "llama_cpp_python" in man["packages"]
    assert man["counts"]["predictions"] == 12 and man["cost"]["answerer"]["calls"] == 12
    metrics = json.loads((out / "metrics.json").read_text())
    f1 = metrics["metrics"]["f1_official"]["overall"]["all"]
    assert f1["n"] == 12 and f1["n_clusters"] == 1 and 0 <= f1["mean"] <= 1
    assert "f1_official" in proc.stdout and "strata named by: data (official" in proc.stdout
    # the audit's ceiling next to the score: the table row and the line under it
    shown = proc.stdout.replace("\n", " ")
    assert "gold_ceiling" in shown and "gold ceiling (audit dial481/locomo-audit" in shown
    assert "clean subset (" in shown
    assert verify_run(out).ok
    kinds = [json.loads(line)["kind"] for line in (out / "audit.jsonl").read_text().splitlines()]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end" and "memory.write" in kinds


@pytest.mark.slow
def test_score_reproduces_metrics_without_any_llm(bm25_run):
    out, _ = bm25_run
    before = json.loads((out / "metrics.json").read_text())
    proc = memeval("score", str(out))
    assert "starting the embedded LLM" not in proc.stderr  # no server, no LLM call
    assert json.loads((out / "metrics.json").read_text()) == before
    assert "f1_official" in memeval("show", str(out), "--convention", "mem0").stdout


@pytest.mark.slow
def test_rerun_of_a_finished_run_does_no_work(bm25_run, llm_spec):
    out, _ = bm25_run
    lines = (out / "predictions.jsonl").read_text()
    memeval("run", "--task", "locomo", "--system", "rag-bm25", "--limit", "12",
            "--llm", llm_spec, "--out", str(out), "--data", str(shared_path(LOCOMO)))
    assert (out / "predictions.jsonl").read_text() == lines
    man = json.loads((out / "manifest.json").read_text())
    assert man["cost"] == {}  # not one LLM call
    assert verify_run(out).ok


@pytest.mark.slow
def test_a_changed_config_does_not_overwrite_a_run(bm25_run, llm_spec):
    out, _ = bm25_run
    proc = memeval("run", "--task", "locomo", "--system", "rag-bm25:k=3", "--limit", "12",
                   "--llm", llm_spec, "--out", str(out), check=False)
    assert proc.returncode == 2 and "different configuration" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_full_context_records_truncation(tmp_path, llm_spec):
    out = tmp_path / "full"
    memeval("run", "--task", "locomo", "--system", "full-context:max_context=1200", "--limit", "2",
            "--llm", llm_spec, "--out", str(out))
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    for p in preds:
        assert p["meta"]["truncated_turns"] > 0  # conv-26 is far longer than 1,200 tokens
        assert p["meta"]["context_tokens"] <= 1200
        assert p["meta"]["prompt_tokens"] <= 1200 + 32
    assert preds[0]["meta"]["truncated_turns"] == preds[1]["meta"]["truncated_turns"]


def test_unknown_names_give_one_clear_message():
    proc = memeval("run", "--task", "locomo", "--system", "rag-bm5", check=False)
    assert proc.returncode == 2
    assert "unknown system 'rag-bm5'; did you mean 'rag-bm25'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = memeval("run", "--suite", "lokomo", "--system", "rag-bm25", check=False)
    assert proc.returncode == 2 and "did you mean 'locomo'" in proc.stderr
    proc = memeval("run", "--task", "locomo:kk=3", "--system", "rag-bm25", check=False)
    assert proc.returncode == 2 and "task 'locomo': unknown option 'kk'; did you mean 'k'" \
        in proc.stderr and "starting the embedded" not in proc.stderr  # before any server


def test_malformed_data_and_suite_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"sample_id": "c",\n "qa": [1,,2]}]')
    proc = memeval("run", "--task", "locomo", "--system", "rag-bm25", "--data", str(bad),
                   "--llm", "http://127.0.0.1:9/v1::m", check=False)
    assert proc.returncode == 2 and f"{bad} line 2" in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ntasks:\n  - task: locomo\n   limit: 3\n")
    proc = memeval("run", "--suite", str(suite), "--system", "rag-bm25", check=False)
    assert proc.returncode == 2 and "line 4" in proc.stderr and "Traceback" not in proc.stderr


def test_ls_lists_tasks_systems_and_suites():
    out = memeval("ls").stdout
    for name in ("locomo", "rag-bm25", "rag-dense", "full-context", "no-memory", "demo"):
        assert name in out
    assert "run" in memeval("--help").stdout


@pytest.mark.slow
def test_locomo_llm_judge_end_to_end(tmp_path, llm_spec):
    """J through `memeval run --judge llm`: two judge runs per answer plus the leniency check;
    the metric equals the share of CORRECT labels computed here from verdicts.jsonl, the
    report states the agreement of the two runs, and a re-judge asks the cache only."""
    out = tmp_path / "judged"
    memeval("run", "--task", "locomo:judge_runs=2,leniency=true,categories=1;2;3;4",
            "--system", "rag-bm25:k=2", "--limit", "4", "--judge", "llm", "--llm", llm_spec,
            "--out", str(out))
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    judged = [v for v in verdicts if v["kind"] == "llm_judge"]
    assert len(judged) == 8 and {v["repeat"] for v in judged} == {0, 1}  # 4 answers x 2 runs
    assert len([v for v in verdicts if v["kind"] == "judge_leniency"]) == 8
    assert all(v["label"] in ("CORRECT", "WRONG") for v in verdicts if v["valid"])
    assert {v["judge"] for v in verdicts} == {json.loads(
        (out / "manifest.json").read_text())["config"]["llm"]}
    shares = {}
    for sid in {v["prediction_id"] for v in judged}:
        labels = [v["label"] for v in judged if v["prediction_id"] == sid and v["valid"]]
        shares[sid] = sum(lab == "CORRECT" for lab in labels) / len(labels) if labels else 0.0
    m = json.loads((out / "metrics.json").read_text())
    assert m["metrics"]["llm_judge"]["overall"]["all"]["mean"] == \
        pytest.approx(sum(shares.values()) / len(shares))
    assert "judge_leniency" in m["metrics"] and m["judges"]
    memeval("report", str(out))
    card = (out / "report.md").read_text()
    assert "Krippendorff's alpha" in card or "judge runs agree on every item" in card
    before = json.loads((out / "manifest.json").read_text())
    memeval("score", str(out), "--rejudge", "--llm", llm_spec)
    assert json.loads((out / "metrics.json").read_text())["metrics"] == m["metrics"]
    again = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    assert len(again) == len(verdicts) and all(v["cached"] for v in again if v["valid"])
    assert before["audit_tail"]["count"] < json.loads(
        (out / "manifest.json").read_text())["audit_tail"]["count"]  # the re-score is audited
