"""Real run folders for the compare / gov / report tests, made once per pytest process.

Every folder comes from a real `memeval run` (a subprocess, so the CLI, the embedded SmolLM2
server and the environment are exactly what a user gets). Runs are memoised by their arguments,
and all of them share one response cache, so a second module asking for the same run, or a rerun
of the same questions, costs no LLM time.

The data is a subset of the real LoCoMo file: every conversation kept whole, but only 1
single-hop (category 4) and 3 adversarial (category 5) questions each: 40 questions in 10
clusters, so cluster CIs and the sign-flip test have something to work with at test cost, and
category 5 (refusal, a binary score) has enough items for exact McNemar tests.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(tempfile.mkdtemp(prefix="memeval-test-runs-"))
# a developer may keep the response cache between sessions (reruns then take seconds)
CACHE = Path(os.environ.get("MEMEVAL_TEST_CACHE_DIR") or ROOT / "cache")
atexit.register(shutil.rmtree, ROOT, ignore_errors=True)
_done: dict[tuple[str, ...], Path] = {}

FAKE_ENV_KEY = "sk-test-SECRET123456789abcdef"  # must never reach a run folder
URL_SECRET = "sk-secret"


def locomo_subset(per_conv: dict[int, int] | None = None, tag: str = "") -> Path:
    """Write the subset file (same bytes for the same arguments); `tag` changes a field no
    question reads, giving a file with other bytes (another sha256) but the same questions."""
    per_conv = per_conv or {4: 1, 5: 3}
    name = "locomo-" + "-".join(f"c{k}x{v}" for k, v in sorted(per_conv.items())) + tag + ".json"
    out = ROOT / "data" / name
    if out.exists():
        return out
    src = REPO / "tasks" / "locomo" / "data" / "locomo10.json"
    convs = json.loads(src.read_text(encoding="utf-8"))
    for c in convs:
        c["qa"] = [q for cat, k in sorted(per_conv.items())
                   for q in [q for q in c["qa"] if q["category"] == cat][:k]]
        if tag:
            c["event_summary"] = {"memeval-test": tag}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(convs), encoding="utf-8")
    return out


def memeval(*args: str, env: dict[str, str] | None = None, timeout: float = 800,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m memeval ARGS` with the shared response cache; output captured."""
    full = {**os.environ, "MEMEVAL_CACHE_DIR": str(CACHE), "COLUMNS": "200", **(env or {})}
    res = subprocess.run([sys.executable, "-m", "memeval", *args], capture_output=True,
                         text=True, env=full, timeout=timeout, cwd=REPO)
    if check and res.returncode != 0:
        raise AssertionError(f"memeval {' '.join(args)} exited {res.returncode}\n"
                             f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}")
    return res


def run(name: str, *args: str, env: dict[str, str] | None = None) -> Path:
    """A finished run folder ROOT/runs/NAME from `memeval run ARGS --out ...` (memoised)."""
    key = (name, *args)
    if key not in _done:
        out = ROOT / "runs" / name
        memeval("run", *args, "--out", str(out), env=env)
        _done[key] = out
    return _done[key]


def bm25() -> Path:
    return run("bm25", "--task", "locomo", "--data", str(locomo_subset()), "--system",
               "rag-bm25:k=2")


def no_memory() -> Path:
    return run("no-memory", "--task", "locomo", "--data", str(locomo_subset()), "--system",
               "no-memory")


def bm25_truncated() -> Path:
    """The same memory system with answers cut to one token: a real, clear regression (a
    'not mentioned' refusal cannot fit in one token, so category 5 collapses to 0)."""
    return run("bm25-trunc", "--task", "locomo:answer_max_tokens=1", "--data",
               str(locomo_subset()), "--system", "rag-bm25:k=2")


def copy_run(src: Path, dst: Path) -> Path:
    """A private copy (gates append to the candidate's audit log)."""
    shutil.copytree(src, dst)
    return dst
