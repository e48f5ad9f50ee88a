"""The embedded server's KV-state cache on vs off, on a real memory library's own LLM calls.

Mem0 alternates two long prompt families (fact extraction, then the ADD/UPDATE/DELETE decision)
and A-Mem two more (note analysis, evolution). llama.cpp alone reuses only the previous prompt's
prefix, so every call of an alternating pair starts cold; with `--cache` the server resumes from
the cached state with the longest shared prefix. Both arms add the same LoCoMo sessions with a
fresh response cache, one after the other in one run; the responses are then compared key by key.

    .venv/bin/python benchmarks/kv_cache.py [--systems mem0] [--sessions 2] [--turns 4]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from adapters import run_one  # noqa: E402  (the adapters benchmark's add/search loop)

from memeval.server import EmbeddedServer, read_timings  # noqa: E402
from memeval.tasks.locomo import loader  # noqa: E402


def responses(db: Path) -> dict[str, str]:
    """Response text by cache key (the stored body also holds the call's latency)."""
    with sqlite3.connect(db) as con:
        return {k: json.loads(b)["text"] for k, b in con.execute("select key, body from responses")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systems", default="mem0", help="comma-separated memory systems")
    ap.add_argument("--sessions", type=int, default=2, help="LoCoMo sessions of conv-26 to add")
    ap.add_argument("--turns", type=int, default=4, help="turns kept per session (0 = all)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `with` stops the server
    conv = loader.load()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.systems.split(","):
            arms = {}
            for kv in (False, True):
                work = Path(tmp) / f"{name}-{'on' if kv else 'off'}"
                work.mkdir()
                log = work / "server.log"
                with EmbeddedServer(kv_cache=kv, timings=True, log_path=log) as srv:
                    start = log.stat().st_size  # the start-up lines hold no call
                    r = run_one(name, srv.endpoint(), conv, args.sessions, args.turns, 0, work)
                r["server"] = read_timings(log, start)
                arms[kv] = (r, responses(work / f"{name.split(':')[0]}-cache.sqlite"))
                print(f"  {name} kv_cache={'on' if kv else 'off'}: {r['wall_s']:.0f} s", flush=True)
            (off, r_off), (on, r_on) = arms[False], arms[True]
            common = r_off.keys() & r_on.keys()
            rows.append((name, off, on, sum(r_off[k] == r_on[k] for k in common), len(common),
                         len(r_off.keys() ^ r_on.keys())))
    print(f"\nLoCoMo {conv.sample_id}: {args.sessions} sessions x {args.turns or 'all'} turns "
          f"added per system, fresh response cache per arm; seconds")
    print(f"{'system':8} {'calls':>5} {'add p50 off':>11} {'add p50 on':>10} {'total off':>9} "
          f"{'total on':>8} {'speed-up':>8}  same responses")
    for name, off, on, same, common, only in rows:
        calls = round(off["calls_per_add"] * off["adds"])
        print(f"{name[:8]:8} {calls:>5} {off['add_p50']:>11.1f} {on['add_p50']:>10.1f} "
              f"{off['wall_s']:>9.1f} {on['wall_s']:>8.1f} {off['wall_s'] / on['wall_s']:>7.2f}x"
              f"  {same}/{common} (prompts in one arm only: {only})")
    # the cache can only remove prompt decoding: with every prompt token reused, the off arm
    # would still take its wall time less its prompt seconds (the ceiling below)
    print("\nllama.cpp's own timings (a reused prefix is not decoded)")
    print(f"{'system':8} {'arm':>4} {'calls':>5} {'prompt tok':>10} {'prompt s':>8} "
          f"{'gen tok':>7} {'gen s':>7}")
    for name, off, on, *_ in rows:
        for arm, r in (("off", off), ("on", on)):
            t = r["server"]
            print(f"{name[:8]:8} {arm:>4} {t.calls:>5} {t.prompt_tokens:>10} {t.prompt_s:>8.1f} "
                  f"{t.gen_tokens:>7} {t.gen_s:>7.1f}")
        ceiling = off["wall_s"] / max(1e-9, off["wall_s"] - off["server"].prompt_s)
        print(f"{name[:8]:8} ceiling (off with no prompt decoding at all): {ceiling:.2f}x")


if __name__ == "__main__":
    main()
