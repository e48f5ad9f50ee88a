"""Nothing lost: SIGKILL at a random point, then resume; and an LLM server that dies mid-run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, memeval
from shared_data import HALUMEM_USER, shared_path
from memeval.audit import verify_run
from memeval.server import EmbeddedServer


def _preds(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines() if x]


def _wait_for(out: Path, n: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        path = out / "predictions.jsonl"
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"run ended (rc={proc.poll()}) before {n} predictions were written")


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, llm_spec):
    n = 10
    args = ["--task", "locomo", "--system", "rag-bm25:k=4", "--limit", str(n), "--llm", llm_spec]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "memeval", "run", *args, "--out", str(killed)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    at = random.Random().randint(1, n - 2)  # a random point, logged for reproduction
    print(f"killing after {at} predictions")
    _wait_for(killed, at, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _preds(killed)
    assert at <= len(partial) < n
    memeval("run", *args, "--out", str(killed))  # same command: resumes
    ref = tmp_path / "ref"
    memeval("run", *args, "--out", str(ref))
    got, want = _preds(killed), _preds(ref)
    assert len(got) == n and len({p["sample_id"] for p in got}) == n  # no duplicates, none lost
    key = lambda p: p["sample_id"]  # noqa: E731
    assert [(p["sample_id"], p["output"]) for p in sorted(got, key=key)] == \
        [(p["sample_id"], p["output"]) for p in sorted(want, key=key)]
    assert {p["sample_id"]: p["output"] for p in partial}.items() <= \
        {p["sample_id"]: p["output"] for p in got}.items()  # finished work was kept, not redone
    assert json.loads((killed / "metrics.json").read_text())["metrics"] == \
        json.loads((ref / "metrics.json").read_text())["metrics"]
    assert verify_run(killed).ok
    # the resumed stretch rebuilt the store by adding the conversation again: those writes are
    # logged, marked as replays, so the log's first-hand writes are those of one clean run
    def writes(out: Path) -> list[dict]:
        return [e for e in map(json.loads, (out / "audit.jsonl").read_text().splitlines())
                if e["kind"] == "memory.write"]
    first, ref_writes = [w for w in writes(killed) if not w["payload"].get("replayed")], writes(ref)
    assert len(ref_writes) > 0 and len(writes(killed)) == 2 * len(ref_writes)
    assert [(w["payload"]["ns"], w["payload"]["text"]) for w in first] == \
        [(w["payload"]["ns"], w["payload"]["text"]) for w in ref_writes]


@pytest.mark.slow
def test_server_down_mid_run_fails_clearly_and_keeps_results(tmp_path):
    # Its own response cache: with the session cache, a port reused from an earlier test's server
    # gives the same URL identity and the whole run could be answered from cache, never failing.
    env = {**os.environ, "MEMEVAL_CACHE_DIR": str(tmp_path / "cache")}
    srv = EmbeddedServer().start()
    spec = f"{srv.url}::{srv.endpoint().model}"
    out = tmp_path / "down"
    args = ["run", "--task", "locomo", "--system", "rag-bm25:k=4", "--limit", "8",
            "--llm", spec, "--retries", "1", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "memeval", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        _wait_for(out, 2, proc)
    finally:
        port = srv.port
        srv.proc.kill()  # a crash, not a polite shutdown: no time for the run to finish first
        srv.proc.wait()
        srv.proc = None
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "failed after 2 attempts" in stderr and "Traceback" not in stderr
    kept = _preds(out)
    assert len(kept) >= 2 and all(p["error"] is None for p in kept)
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "aborted" and verify_run(out).ok
    # The same server back on the same port: the same command finishes the run.
    with EmbeddedServer(port=port):
        memeval(*args, env=env)
    assert len(_preds(out)) == 8
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def _killed_mid_run(args: list[str], out: Path, watch: str, at: int) -> list[str]:
    """Start `memeval run ARGS --out OUT`, SIGKILL it once `watch` holds `at` lines; return the
    lines of `watch` the kill left (the run must have been cut short, not finished)."""
    proc = subprocess.Popen([sys.executable, "-m", "memeval", "run", *args, "--out", str(out)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    path = out / watch
    deadline = time.time() + 700
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= at:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"run ended (rc={proc.poll()}) before {at} lines of {watch}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"  # no goodbye
    return path.read_text().splitlines()


def _record_or_none(line: str) -> dict | None:
    """A JSONL line as written, or None for the partial line a kill leaves at the end."""
    try:
        return json.loads(line)
    except ValueError:
        return None


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["metrics"]


@pytest.mark.slow
def test_sigkill_of_a_memory_library_run_then_resume(tmp_path, llm_spec):
    """A-Mem on the real HaluMem user: killed after its first session, resumed (the store is
    rebuilt from the response cache), and equal to an uninterrupted run made afterwards, whose
    every library call is then a cache hit (any other store state would change a prompt)."""
    args = ["--task", "halumem", "--data", str(shared_path(HALUMEM_USER)), "--system",
            "amem:max_tokens=96", "--limit-sessions", "2", "--judge", "exact", "--llm", llm_spec]
    killed, ref = tmp_path / "killed", tmp_path / "ref"
    partial = _killed_mid_run(args, killed, "predictions.jsonl", 1)
    assert len(partial) == 1
    memeval("run", *args, "--out", str(killed))
    memeval("run", *args, "--out", str(ref))
    cost = json.loads((ref / "manifest.json").read_text())["cost"]["system:amem"]
    assert cost["calls"] > 0 and cost["cache_hits"] == cost["calls"], cost

    def same(out: Path) -> list[tuple]:
        return sorted((p["sample_id"], p["meta"]["extracted"], [q["response"] for q in
                       p["meta"].get("qa", [])]) for p in _preds(out))

    assert same(killed) == same(ref) and len(same(ref)) == 2
    assert _metrics(killed) == _metrics(ref)
    assert verify_run(killed).ok and verify_run(ref).ok


@pytest.mark.slow
def test_sigkill_during_halumem_judging_then_resume(tmp_path, llm_spec):
    """Killed while the LLM judge works through the verdicts: finished batches are kept, the
    torn one is judged again, and the result equals an uninterrupted run (made afterwards: all
    its judge calls are cache hits, so both saw the same verdicts)."""
    args = ["--task", "halumem-synth:size=tiny,answerer=oracle", "--limit", "2", "--system",
            "oracle", "--judge", "llm", "--llm", llm_spec]
    killed, ref = tmp_path / "killed", tmp_path / "ref"
    partial = _killed_mid_run(args, killed, "verdicts.jsonl", 1)
    assert partial and not (killed / "metrics.json").exists()  # judging was under way
    memeval("run", *args, "--out", str(killed))
    memeval("run", *args, "--out", str(ref))
    judge = json.loads((ref / "manifest.json").read_text())["cost"]["judge"]
    assert judge["calls"] > 0 and judge["cache_hits"] == judge["calls"], judge
    verdicts = [json.loads(x) for x in (killed / "verdicts.jsonl").read_text().splitlines()]
    # the batches the kill left complete (the torn last line, if any, aside): kept as written
    whole = [v for v in map(_record_or_none, partial) if v is not None]
    done = {v["prediction_id"] for v in whole
            if sum(w["prediction_id"] == v["prediction_id"] for w in whole) == v["batch"]}
    kept = [v for v in whole if v["prediction_id"] in done]
    assert verdicts[:len(kept)] == kept
    key = lambda v: (v["prediction_id"], v["item"])  # noqa: E731
    ref_v = [json.loads(x) for x in (ref / "verdicts.jsonl").read_text().splitlines()]
    strip = lambda v: {k: x for k, x in v.items() if k not in ("cached", "attempts")}  # noqa
    assert sorted(map(strip, verdicts), key=key) == sorted(map(strip, ref_v), key=key)
    assert _metrics(killed) == _metrics(ref)
    assert verify_run(killed).ok


@pytest.mark.slow
def test_sigkill_of_a_parametric_pack_then_resume(tmp_path):
    """knowledge-capacity with two model sizes: killed after the first model's people are
    written, resumed (only the second model trains), equal to an uninterrupted run."""
    args = ["--task", "knowledge-capacity:n=20,sizes=1x16;1x32,exposures=30,warmup=5",
            "--system", "gpt2-tiny"]
    killed, ref = tmp_path / "killed", tmp_path / "ref"
    partial = _killed_mid_run(args, killed, "predictions.jsonl", 20)
    assert 20 <= len(partial) < 40
    memeval("run", *args, "--out", str(killed))
    memeval("run", *args, "--out", str(ref))
    loss = lambda out: sorted((p["sample_id"], p["meta"]["p1"], p["meta"]["p2"])  # noqa: E731
                              for p in _preds(out))
    assert loss(killed) == loss(ref) and len(loss(ref)) == 40
    assert _metrics(killed) == _metrics(ref)
    assert verify_run(killed).ok
