"""A RUNS_DIR for the leaderboard tests, made once per pytest process from real `memeval run`s.

    ROOT/runs/synth/{oracle,rag-bm25,no-memory}   halumem-synth (tiny: 2 users), oracle answerer,
                                                  exact judge: seconds each, no generation
    ROOT/runs/locomo/{bm25,no-memory}             the LoCoMo runs of memeval_runs (40 questions,
                                                  10 conversations; shared with compare/report)
    ROOT/runs/broken                              a real run whose manifest.json was cut short
    ROOT/runs/linked -> ROOT/outside-run          a symlink to a real run outside RUNS_DIR
    ROOT/outside-run                              (outside RUNS_DIR: must never be shown)
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import memeval_runs as mr
from helpers import memeval

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "leaderboard" / "app.py"
SYNTH = ("oracle", "rag-bm25", "no-memory")
_built: dict[str, Path] = {}


def runs_root(llm_spec: str) -> Path:
    if llm_spec in _built:
        return _built[llm_spec]
    base = Path(tempfile.mkdtemp(prefix="memeval-lb-test-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    root = base / "runs"
    for system in SYNTH:
        memeval("run", "--task", "halumem-synth:size=tiny,answerer=oracle", "--system", system,
                "--judge", "exact", "--llm", llm_spec, "--out", str(root / "synth" / system))
    shutil.copytree(mr.bm25(), root / "locomo" / "bm25")
    shutil.copytree(mr.no_memory(), root / "locomo" / "no-memory")
    shutil.copytree(mr.bm25_truncated(), root / "locomo" / "bm25-trunc")
    broken = root / "broken"
    shutil.copytree(root / "synth" / "oracle", broken)
    text = (broken / "manifest.json").read_text()
    (broken / "manifest.json").write_text(text[: len(text) // 2])
    outside = base / "outside-run"
    shutil.copytree(root / "synth" / "rag-bm25", outside)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    _built[llm_spec] = root
    return root


def snapshot(root: Path) -> dict[str, Any]:
    """Every entry below root (links not followed): kind, size, mtime and content hash."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                out[rel] = ("file", st.st_size, st.st_mtime_ns,
                            hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("dir", st.st_mtime_ns)
    return out


def metrics(root: Path, run: str) -> dict[str, Any]:
    return json.loads((root / run / "metrics.json").read_text())


def manifest(root: Path, run: str) -> dict[str, Any]:
    return json.loads((root / run / "manifest.json").read_text())


def headline_ci(block: dict[str, Any]) -> list[float] | None:
    """statistics.md: the cluster bootstrap CI below 30 clusters ('.../bootstrap'), else t."""
    return block["ci_boot"] if block["method"].endswith("/bootstrap") else block["ci_t"]


def item_scores(root: Path, run: str, metric: str) -> dict[str, float | None]:
    """sample_id -> value of one metric, straight from scores.jsonl (last line wins)."""
    out: dict[str, float | None] = {}
    for line in (root / run / "scores.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["metric"] == metric:
            out[rec["sample_id"]] = rec["value"]
    return out


def expected_quadrants(root: Path, a: str, b: str, metric: str, threshold: float
                       ) -> dict[str, set[str]]:
    """Independent of the app: join both scores.jsonl on sample_id, right = value >= t."""
    sa, sb = item_scores(root, a, metric), item_scores(root, b, metric)
    out: dict[str, set[str]] = {"both right": set(), "A only": set(), "B only": set(),
                                "both wrong": set()}
    for sid in set(sa) & set(sb):
        ra = sa[sid] is not None and sa[sid] >= threshold  # type: ignore[operator]
        rb = sb[sid] is not None and sb[sid] >= threshold  # type: ignore[operator]
        key = "both right" if ra and rb else "A only" if ra else "B only" if rb else "both wrong"
        out[key].add(sid)
    return out
