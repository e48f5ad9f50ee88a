"""HaluMem cost on the real user's first sessions: calls, tokens and wall time per session;
first run vs cached rerun; accuracy-judge prompts with the session dialogue as a shared prefix
(llama.cpp reuses its KV cache) vs the candidate memory first. Measured in one run.

    .venv/bin/python benchmarks/halumem_cost.py [--sessions 1] [--system rag-bm25:chunk=8]

Faithfulness: both layouts hold the same content; the script reports how many verdicts differ
between them (a small model can be sensitive to order: that number is the honest answer).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
USER = REPO.parent / "shared" / "data" / "halumem" / "HaluMem-Medium-user-4fd09df4.jsonl"


def run(out: Path, cache: Path, layout: str, args: argparse.Namespace, llm: str) -> float:
    cmd = [sys.executable, "-m", "memeval", "run", "--task", f"halumem:judge_layout={layout}",
           "--data", str(args.data), "--limit-sessions", str(args.sessions), "--system",
           args.system, "--judge", "llm", "--llm", llm, "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True,
                   env={**os.environ, "MEMEVAL_CACHE_DIR": str(cache)})
    return time.perf_counter() - t0


def verdicts(out: Path) -> dict[tuple[str, str], object]:
    rows = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    return {(r["sample_id"], r["metric"]): r["value"] for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--system", default="rag-bm25:chunk=8")
    ap.add_argument("--data", type=Path, default=USER)
    args = ap.parse_args()
    from memeval.server import EmbeddedServer

    with EmbeddedServer() as srv, tempfile.TemporaryDirectory() as tmp:
        llm = f"{srv.url}::{srv.endpoint().model}"
        t = Path(tmp)
        times = {"shared_prefix": run(t / "a", t / "cache-a", "shared_prefix", args, llm),
                 "cached_rerun": run(t / "a2", t / "cache-a", "shared_prefix", args, llm),
                 "memory_first": run(t / "b", t / "cache-b", "memory_first", args, llm)}
        folders = {"shared_prefix": t / "a", "cached_rerun": t / "a2", "memory_first": t / "b"}
        print(f"real HaluMem user, first {args.sessions} session(s), system {args.system}")
        print(f"{'run':<15}{'wall s':>9}{'s/session':>11}{'judge calls':>13}{'real':>6}"
              f"{'answer calls':>14}{'prompt tok':>12}")
        for name, folder in folders.items():
            cost = json.loads((folder / "manifest.json").read_text())["cost"]
            j, a = cost.get("judge", {}), cost.get("answerer", {})
            real = j.get("calls", 0) - j.get("cache_hits", 0)
            tok = j.get("prompt_tokens", 0) + a.get("prompt_tokens", 0)
            print(f"{name:<15}{times[name]:>9.1f}{times[name] / args.sessions:>11.1f}"
                  f"{j.get('calls', 0):>13}{real:>6}{a.get('calls', 0):>14}{tok:>12}")
        print(f"ratio first/cached rerun       : {times['shared_prefix'] / times['cached_rerun']:.1f}x")
        print(f"ratio memory_first/shared_prefix: {times['memory_first'] / times['shared_prefix']:.2f}x")
        va, vb = verdicts(folders["shared_prefix"]), verdicts(folders["memory_first"])
        same = sum(va[k] == vb.get(k) for k in va)
        print(f"verdicts equal across layouts  : {same}/{len(va)}")


if __name__ == "__main__":
    main()
