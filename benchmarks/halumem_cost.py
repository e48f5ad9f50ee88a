"""HaluMem cost on the real user's first sessions, measured in one run: calls, tokens and
time; first run vs cached rerun; and what llama.cpp's prefix reuse buys the judges.

Judge time is the judge calls' summed latency (manifest `cost.judge.seconds`). Arms:
- shared_prefix: memeval's layout (a session's dialogue + gold list, or its extracted
  memories, first; the item last), calls of a session back to back;
- no_reuse: the same prompts on a server that decodes every prompt from scratch
  (MEMEVAL_LLAMA_PREFIX_REUSE=0, no KV-state cache): the same verdicts are expected, so the
  time ratio is what reuse buys, with faithfulness checked verdict by verdict;
- memory_first: the item first in both judges' prompts (the layout reuse cannot help); its
  verdicts may differ (a small model is sensitive to order): the count is reported;
- cached_rerun: shared_prefix again on the same response cache.
On llama.cpp, a second table gives the server's own timings per arm (prompt tokens it
decoded, tokens it generated, seconds of each), read from its log. The issue's figure is
`--sessions 3`: the first two sessions are short (353 and 434 dialogue tokens).

With `--backend vllm` the same arms run on vLLM's server over SmolLM2-135M (the vLLM extra):
no_reuse is then vLLM with automatic prefix caching off.

    .venv/bin/python benchmarks/halumem_cost.py [--sessions 1] [--system rag-bm25:chunk=8]
        [--backend llamacpp|vllm] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
USER = REPO.parent / "shared" / "data" / "halumem" / "HaluMem-Medium-user-4fd09df4.jsonl"


def run(out: Path, cache: Path, layout: str, args: argparse.Namespace, llm: str) -> float:
    cmd = [sys.executable, "-m", "memeval", "run", "--task", f"halumem:judge_layout={layout}",
           "--data", str(args.data), "--limit-sessions", str(args.sessions), "--system",
           args.system, "--judge", "llm", "--llm", llm, "--out", str(out),
           "--concurrency", str(args.concurrency)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True,
                   env={**os.environ, "MEMEVAL_CACHE_DIR": str(cache)})
    return time.perf_counter() - t0


def verdicts(out: Path) -> dict[tuple[str, str], object]:
    rows = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    return {(r["sample_id"], r["metric"]): r["value"] for r in rows}


def judge_seconds(out: Path) -> float:
    return float(json.loads((out / "manifest.json").read_text())["cost"]["judge"]["seconds"])


def warm_arms(t: Path, args: argparse.Namespace, llm: str,
              done: Callable[[str], None] = lambda arm: None) -> dict[str, float]:
    times = {}
    for arm, folder, cache, layout in (("shared_prefix", "a", "cache-a", "shared_prefix"),
                                       ("cached_rerun", "a2", "cache-a", "shared_prefix"),
                                       ("memory_first", "b", "cache-b", "memory_first")):
        times[arm] = run(t / folder, t / cache, layout, args, llm)
        done(arm)
    return times


class LogSlices:
    """The server's own timings per arm: the arms share one server, whose log is appended to,
    so each arm's perf lines are the slice written since the previous arm ended."""

    def __init__(self, log: Path) -> None:
        self.log, self.pos, self.arms = log, 0, {}

    def __call__(self, arm: str) -> None:
        from memeval.server import read_timings

        self.arms[arm] = read_timings(self.log, self.pos)
        self.pos = self.log.stat().st_size


def llamacpp_arms(t: Path, args: argparse.Namespace, server: Any) -> tuple[dict[str, float],
                                                                            dict[str, Any]]:
    warm, cold_log = LogSlices(t / "server.log"), LogSlices(t / "server-cold.log")
    with server(timings=True, log_path=warm.log) as srv:
        warm.pos = warm.log.stat().st_size  # start-up lines hold no call
        times = warm_arms(t, args, f"{srv.url}::{srv.endpoint().model}", warm)
    os.environ["MEMEVAL_LLAMA_PREFIX_REUSE"] = "0"  # read by the server process at start
    try:
        with server(kv_cache=False, timings=True, log_path=cold_log.log) as cold:
            llm = f"{cold.url}::{cold.endpoint().model}"
            times["no_reuse"] = run(t / "c", t / "cache-c", "shared_prefix", args, llm)
            cold_log("no_reuse")
    finally:
        del os.environ["MEMEVAL_LLAMA_PREFIX_REUSE"]
    return times, {**warm.arms, **cold_log.arms}


def vllm_arms(t: Path, args: argparse.Namespace) -> dict[str, float]:
    from memeval.adapters.lm.vllm_server import VLLMServer

    # the embedded server's window: HaluMem's judge prompts outgrow vLLM's default 2048
    with VLLMServer(max_model_len=8192, log_path=t / "vllm.log") as srv:
        times = warm_arms(t, args, f"{srv.url}::{srv.endpoint().model}")
    with VLLMServer(max_model_len=8192, prefix_caching=False, log_path=t / "vllm-cold.log") \
            as cold:
        llm = f"{cold.url}::{cold.endpoint().model}"
        times["no_reuse"] = run(t / "c", t / "cache-c", "shared_prefix", args, llm)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--system", default="rag-bm25:chunk=8")
    ap.add_argument("--data", type=Path, default=USER)
    ap.add_argument("--backend", choices=["llamacpp", "vllm"], default="llamacpp")
    # memeval's own default for each: a URL endpoint would get 8, and 8 requests queued at
    # llama.cpp's one-at-a-time server interleave two sessions' judge prompts, so each call
    # starts from the other session's prefix (measured: shared_prefix 127 s at 8, see README)
    ap.add_argument("--concurrency", type=int, default=None,
                    help="requests in flight (default: 1 on llama.cpp, 8 on vLLM)")
    args = ap.parse_args()
    if args.concurrency is None:
        args.concurrency = 1 if args.backend == "llamacpp" else 8
    from memeval.server import EmbeddedServer

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        server_side: dict[str, Any] = {}
        if args.backend == "vllm":
            times = vllm_arms(t, args)
        else:
            times, server_side = llamacpp_arms(t, args, EmbeddedServer)
        folders = {"shared_prefix": t / "a", "cached_rerun": t / "a2", "memory_first": t / "b",
                   "no_reuse": t / "c"}
        print(f"real HaluMem user, first {args.sessions} session(s), system {args.system}, "
              f"{args.backend}, concurrency {args.concurrency}")
        print(f"{'run':<15}{'wall s':>9}{'judge s':>9}{'judge calls':>13}{'real':>6}"
              f"{'answer calls':>14}{'prompt tok':>12}")
        for name, folder in folders.items():
            cost = json.loads((folder / "manifest.json").read_text())["cost"]
            j, a = cost.get("judge", {}), cost.get("answerer", {})
            real = j.get("calls", 0) - j.get("cache_hits", 0)
            tok = j.get("prompt_tokens", 0) + a.get("prompt_tokens", 0)
            print(f"{name:<15}{times[name]:>9.1f}{j.get('seconds', 0):>9.1f}"
                  f"{j.get('calls', 0):>13}{real:>6}{a.get('calls', 0):>14}{tok:>12}")
        js = {k: judge_seconds(f) for k, f in folders.items() if k != "cached_rerun"}
        va = verdicts(folders["shared_prefix"])
        for other in ("no_reuse", "memory_first"):
            vb = verdicts(folders[other])
            same = sum(va[k] == vb.get(k) for k in va)
            print(f"judge time {other}/shared_prefix: {js[other] / js['shared_prefix']:.2f}x"
                  f"  (verdicts equal: {same}/{len(va)})")
        print(f"wall first/cached rerun: {times['shared_prefix'] / times['cached_rerun']:.1f}x")
        if server_side:  # what llama.cpp itself spent: a reused prefix is not decoded
            print("\nllama.cpp's own timings, judge and answer calls together")
            print(f"{'run':<15}{'calls':>6}{'prompt tok':>12}{'prompt s':>10}{'gen tok':>9}"
                  f"{'gen s':>8}")
            for name, st in server_side.items():
                print(f"{name:<15}{st.calls:>6}{st.prompt_tokens:>12}{st.prompt_s:>10.1f}"
                      f"{st.gen_tokens:>9}{st.gen_s:>8.1f}")


if __name__ == "__main__":
    main()
