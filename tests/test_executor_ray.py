"""`memeval run --executor ray` on a real local Ray cluster and the real embedded LLM: the same job
as the local executor gives the same run; a Ray worker SIGKILLed mid-group is retried by Ray,
and nothing is duplicated or lost (predictions.jsonl ids, the audit chain)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from helpers import REPO, memeval

# A cheap job with many groups: 8 questions drawn across LoCoMo's 10 conversations, BM25
# retrieval (no LLM in the system), the embedded model answering.
N = 8
JOB = ["--task", f"locomo:sample={N}", "--system", "rag-bm25:k=4", "--concurrency", "2"]
# what differs between two runs of one job: wall times, and whether a reply came from the cache
RUN_STATE = ("ingest_s", "search_s", "answer_s", "cached")


def _preds(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines() if x]


def _comparable(p: dict) -> dict:
    """A prediction without what legitimately differs between two runs of one job."""
    meta = {k: v for k, v in p["meta"].items() if k not in RUN_STATE}
    return {**{k: v for k, v in p.items() if k not in ("ts", "meta")}, "meta": meta}


def _events(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "audit.jsonl").read_text().splitlines()]


def _memory_events(out: Path) -> dict[str, list[tuple]]:
    """Memory events per namespace, in order (groups interleave differently per executor)."""
    by_ns: dict[str, list[tuple]] = {}
    for e in _events(out):
        if e["kind"].startswith("memory."):
            by_ns.setdefault(e["payload"]["ns"], []).append(
                (e["kind"], e["actor"], e["payload"]["text"], e["payload"].get("replayed")))
    return by_ns


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def _verify(out: Path) -> None:
    proc = memeval("audit", "verify", str(out))
    assert "chain intact" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, llm_spec):
    root = tmp_path_factory.mktemp("ray")
    out, cache = root / "local", root / "shared-cache.sqlite"
    t0 = time.perf_counter()
    memeval("run", *JOB, "--llm", llm_spec, "--cache", str(cache), "--out", str(out))
    print(f"local executor: {time.perf_counter() - t0:.1f} s")
    return out, cache


def test_without_ray_installed_the_error_is_one_line(tmp_path):
    """A `ray` that cannot be imported (a stand-in package first on the path): one UserError
    line naming how to install it, before any server starts."""
    fake = tmp_path / "shadow" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('ray is not installed here')\n")
    env = {"PYTHONPATH": f"{fake.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = memeval("run", *JOB, "--executor", "ray", env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'memeval[ray]'" in proc.stderr and "Traceback" not in proc.stderr
    assert "starting the embedded LLM" not in proc.stderr
    proc = memeval("run", *JOB, "--ray-address", "127.0.0.1:6379", check=False)
    assert proc.returncode == 2 and "--ray-address is for --executor ray" in proc.stderr


@pytest.mark.slow
def test_ray_executor_gives_the_local_run(local_run, tmp_path, llm_spec):
    """Same job, same response cache: identical predictions, metrics and memory events; every
    answer is a cache hit, so the workers sent byte-identical prompts."""
    pytest.importorskip("ray", reason="Ray is an optional extra: bash scripts/setup.sh --extra ray")
    local, cache = local_run
    out = tmp_path / "ray"
    t0 = time.perf_counter()
    proc = memeval("run", *JOB, "--executor", "ray", "--llm", llm_spec, "--cache", str(cache),
                   "--out", str(out))
    print(f"ray executor (cached answers): {time.perf_counter() - t0:.1f} s")
    assert "group(s) as Ray tasks" in proc.stderr
    want, got = _preds(local), _preds(out)
    assert len(want) == N and len({p["cluster"] for p in want}) > 2  # several groups
    key = lambda p: p["sample_id"]  # noqa: E731
    assert [_comparable(p) for p in sorted(got, key=key)] == \
        [_comparable(p) for p in sorted(want, key=key)]
    assert _metrics(out)["metrics"] == _metrics(local)["metrics"]
    assert _memory_events(out) == _memory_events(local) and _memory_events(out)
    kinds = lambda o: Counter(e["kind"] for e in _events(o))  # noqa: E731
    assert kinds(out) == kinds(local)
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["counts"]["predictions"] == N
    answerer = man["cost"]["answerer"]  # the workers' ledgers, merged into the driver's
    assert answerer["calls"] == N and answerer["cache_hits"] == N, answerer
    _verify(out)


def _ray_tasks_under(root_pid: int, title: str) -> list[int]:
    """PIDs of processes descending from `root_pid` whose title (Ray sets it to
    `ray::<function>` while a worker runs a task) starts with `title`."""
    parent: dict[int, int] = {}
    titles: dict[int, str] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            titles[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def under(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == root_pid:
                return True
        return False
    return [p for p, t in titles.items() if t.startswith(title) and under(p)]


def _driver_core_log(driver_pid: int) -> str:
    """The core-worker log of the Ray driver `driver_pid` (a local cluster's session folder
    is named after the process that started it)."""
    root = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray"
    logs = list(root.glob(f"session_*_{driver_pid}/logs/python-core-driver-*_{driver_pid}.log"))
    assert len(logs) == 1, f"no single Ray driver log for pid {driver_pid} under {root}: {logs}"
    return logs[0].read_text(errors="replace")


@pytest.mark.slow
def test_a_worker_killed_mid_group_is_retried_nothing_duplicated_or_lost(local_run, tmp_path,
                                                                          llm_spec):
    """A fresh cache (the workers really call the LLM); once one group is written, SIGKILL a
    Ray worker while it runs a group. Ray reruns that group; every sample is written exactly
    once, without error, and the audit chain holds each memory write once."""
    pytest.importorskip("ray", reason="Ray is an optional extra: bash scripts/setup.sh --extra ray")
    local, _ = local_run
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "memeval", "run", *JOB, "--executor", "ray", "--llm", llm_spec,
            "--cache", str(tmp_path / "fresh.sqlite"), "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    killed = None
    deadline = time.time() + 300
    while killed is None and time.time() < deadline and proc.poll() is None:
        preds = out / "predictions.jsonl"
        if preds.exists() and preds.read_bytes().count(b"\n") >= 1:
            for pid in _ray_tasks_under(proc.pid, "ray::run_shard"):
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.02)
    stdout, stderr = proc.communicate(timeout=600)
    print(f"ray executor with a killed worker (fresh cache): {time.perf_counter() - t0:.1f} s")
    assert killed is not None, f"no Ray worker was seen running a group\n{stderr}"
    assert proc.returncode == 0, stderr
    # Ray's own account, in the log of the driver's core worker (the tasks' owner): the kill
    # hit a running task, and Ray submitted it again
    log = _driver_core_log(proc.pid)
    assert "Will resubmit task" in log and "function_name=run_shard" in log, log[-2000:]
    preds = _preds(out)
    ids = Counter(p["sample_id"] for p in preds)
    assert set(ids) == {p["sample_id"] for p in _preds(local)}  # none lost
    assert set(ids.values()) == {1}  # none twice
    assert all(p["error"] is None for p in preds), [p["error"] for p in preds if p["error"]]
    _verify(out)
    # the killed attempt's events never reached the chain: each write once, as in the local run
    assert {ns: len(ev) for ns, ev in _memory_events(out).items()} == \
        {ns: len(ev) for ns, ev in _memory_events(local).items()}
    assert not any(e["kind"] == "sample.error" for e in _events(out))
    # two workers (and the killed one) wrote the one SQLite cache: one reply per question
    with sqlite3.connect(tmp_path / "fresh.sqlite") as db:
        rows = dict(db.execute("SELECT caller, COUNT(*) FROM responses GROUP BY caller"))
    assert rows == {"answerer": N}, rows
