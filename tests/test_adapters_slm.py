"""SuperLocalMemory (Mode A, no LLM) in its own environment, against real LoCoMo turns: what
it stores is found again, by meaning too (its semantic channel is what an offline default
setup silently loses), namespaces stay apart, and a killed worker is a counted failure after
which the adapter carries on with the same store. The environment is built on first use
(.venv-systems/slm, ~2 min once)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from helpers import memeval
from memeval.adapters.memory.slm import SuperLocalMemory
from memeval.contracts import SystemContext
from memeval.jsonworker import WorkerError
from memeval.tasks.locomo import loader
from memeval.tasks.locomo.task import _perspective

pytestmark = pytest.mark.slow


def turns(session_index: int, ids: list[str], speaker: str):
    conv = loader.load()[0]
    s = conv.sessions[session_index]
    picked = s.model_copy(update={"turns": [t for t in s.turns if t.turn_id in ids]})
    return _perspective(picked, speaker)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    system = SuperLocalMemory(SystemContext(storage_dir=tmp_path_factory.mktemp("slm")))
    for ns in ("conv/Caroline", "conv/Melanie"):
        system.reset(ns)
    a = system.add("conv/Caroline", turns(0, ["D1:3", "D1:5"], "Caroline"))
    b = system.add("conv/Melanie", turns(1, ["D2:1"], "Melanie"))
    yield system, a, b
    system.close()


def test_what_it_stores_is_found_by_words_and_by_meaning(filled):
    system, a, _ = filled
    info = system.info()
    assert info["library"] == {"superlocalmemory": "4.1.18"}
    assert a and all(m.event == "ADD" and m.memory_id for m in a)
    assert any("LGBTQ support group" in m.text for m in a)
    for m in a:  # its own words find it
        assert m.memory_id in {h.memory_id for h in system.search("conv/Caroline", m.text, 10)}
    # a paraphrase shares no rare word with the turn: the semantic channel must carry it
    hits = system.search("conv/Caroline", "a meeting for gay and trans people", 5)
    assert hits and hits[0].meta["channels"].get("semantic", 0) > 0.3, hits
    assert "embed.missing" not in info["internal_failures"], info["internal_failures"]


def test_namespaces_never_see_each_other(filled):
    system, a, b = filled
    ids_a, ids_b = {m.memory_id for m in a}, {m.memory_id for m in b}
    assert ids_a and ids_b
    for ns, other in (("conv/Caroline", ids_b), ("conv/Melanie", ids_a)):
        for query in ("charity race", "LGBTQ support group", "Caroline", "Melanie"):
            assert not {h.memory_id for h in system.search(ns, query, 20)} & other
    assert system.search("conv/nobody", "LGBTQ support group", 5) == []


def test_a_killed_worker_is_counted_and_the_store_survives(tmp_path):
    system = SuperLocalMemory(SystemContext(storage_dir=tmp_path))
    try:
        system.reset("ns")
        first = system.add("ns", turns(0, ["D1:3"], "Caroline"))
        assert first
        os.kill(system.seat.worker._proc.pid, signal.SIGKILL)  # the fault: the library process dies
        with pytest.raises(WorkerError, match="exited"):
            system.add("ns", turns(1, ["D2:1"], "Caroline"))
        assert system.info()["internal_failures"].get("worker.died") == 1
        again = system.add("ns", turns(1, ["D2:1"], "Caroline"))  # a fresh worker, same store
        assert again
        found = {h.memory_id for h in system.search("ns", first[0].text, 10)}
        assert first[0].memory_id in found
    finally:
        system.close()


def test_a_locomo_run_completes_offline(tmp_path):
    run = tmp_path / "run"
    memeval("run", "--task", "locomo", "--system", "slm", "--limit", "4", "--out", str(run))
    preds = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines() if x]
    assert len(preds) == 4 and all(p["error"] is None for p in preds)
    assert all(p["retrieved"] for p in preds)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["system"]["info"]["library"] == {"superlocalmemory": "4.1.18"}


def _worker_pids(run) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "slm_worker.py" in cmd and str(run) in cmd:
                out.append(int(proc.name))
    return out


def test_a_worker_killed_mid_run_fails_samples_and_the_run_resumes(tmp_path):
    """The fault: SIGKILL to the library's process once the run has answered a question."""
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    args = [sys.executable, "-m", "memeval", "run", "--task", "locomo", "--system", "slm",
            "--limit", "5", "--no-cache", "--out", str(run)]  # uncached: each answer takes time
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    preds = run / "predictions.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if preds.is_file() and preds.read_text().strip():
            break
        time.sleep(0.2)
    pids = _worker_pids(run)
    assert pids, "the worker was not found while the run was answering"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=600)
    first = [json.loads(x) for x in preds.read_text().splitlines() if x]
    failed = [p for p in first if p["error"]]
    assert failed and all("SuperLocalMemory worker exited" in p["error"] for p in failed), out
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["counts"]["internal_failures"].get("worker.died") == 1
    memeval("run", "--task", "locomo", "--system", "slm", "--limit", "5", "--out", str(run))
    final = [json.loads(x) for x in preds.read_text().splitlines() if x]
    ids = [p["sample_id"] for p in final]
    assert len(ids) == len(set(ids)) == 5 and all(p["error"] is None for p in final)
    ok_first = {p["sample_id"] for p in first if not p["error"]}
    assert ok_first <= set(ids)  # answered before the kill: kept, not redone
