"""Cost of the real memory-library adapters on a few LoCoMo sessions, measured in one run.

Per system: add and search latency (p50/p95), the library's own LLM calls and tokens per add
(from the LLM client's ledger, caller `system:<name>`), memories stored per session (ADD events
per session and namespace), and the internal failures the adapter counted. Ingestion follows each
adapter's LoCoMo protocol (per speaker for mem0 and langmem, one note per turn for amem, one
episode per session for graphiti; slm and memos run in their own environments behind a worker,
their LLM calls through memeval's endpoint); the
searches are the conversation's first questions. Every call is real (fresh response cache).
`rag-dense` runs alongside as the no-LLM reference; search ratios are against it.

    python benchmarks/adapters.py [--sessions 2] [--turns 4] [--questions 4]
                                  [--systems amem,mem0,langmem,slm,graphiti,memos]
                                  [--llm URL::MODEL]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from memeval import registry
from memeval.contracts import SystemContext
from memeval.endpoint import parse_llm_spec
from memeval.llm import LLMClient
from memeval.llm_cache import ResponseCache
from memeval.tasks.locomo import loader
from memeval.tasks.locomo.task import _perspective

TARGETS = {"amem": "memeval.adapters.memory.amem:AMemSystem",
           "mem0": "memeval.adapters.memory.mem0:Mem0System",
           "langmem": "memeval.adapters.memory.langmem:LangMemSystem"}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def load_system(name: str) -> Any:
    import importlib

    if name in TARGETS:
        module, _, attr = TARGETS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    return registry.resolve("system", name)


def run_one(spec: str, endpoint: Any, conv: loader.Conversation, sessions: int, turns: int,
            questions: int, work: Path) -> dict[str, Any]:
    name, opts = registry.parse_spec(spec)
    llm = LLMClient(endpoint, cache=ResponseCache(work / f"{name}-cache.sqlite"))
    caller = f"system:{name}"
    system = load_system(name)(SystemContext(storage_dir=work / name, llm=llm, caller=caller),
                               **opts)
    per_speaker = system.capabilities.ingest == "per-speaker"
    spaces = {sp: f"{conv.sample_id}/{sp}" for sp in (conv.speaker_a, conv.speaker_b)} \
        if per_speaker else {None: conv.sample_id}
    for ns in spaces.values():
        system.reset(ns)
    add_s: list[float] = []
    stored: list[int] = []
    t_start = time.perf_counter()
    for s in conv.sessions[:sessions]:
        cut = s.model_copy(update={"turns": s.turns[:turns] if turns else s.turns})
        for sp, ns in spaces.items():
            t0 = time.perf_counter()
            mems = system.add(ns, _perspective(cut, sp) if sp else cut)
            add_s.append(time.perf_counter() - t0)
            stored.append(sum(m.event == "ADD" for m in mems))
    usage = llm.ledger.summary().get(caller, {})
    search_s: list[float] = []
    hits: list[int] = []
    system.search(next(iter(spaces.values())), "warm-up", 1)  # first-use model loads: untimed
    for q in conv.qa[:questions]:
        for ns in spaces.values():
            t0 = time.perf_counter()
            hits.append(len(system.search(ns, q.question, 10)))
            search_s.append(time.perf_counter() - t0)
    info = system.info()
    system.close()
    llm.close()
    n_add = max(1, len(add_s))
    return {"system": spec, "adds": len(add_s), "add_p50": pct(add_s, .5),
            "add_p95": pct(add_s, .95), "search_p50": pct(search_s, .5),
            "search_p95": pct(search_s, .95), "calls_per_add": usage.get("calls", 0) / n_add,
            "prompt_tok_per_add": usage.get("prompt_tokens", 0) / n_add,
            "completion_tok_per_add": usage.get("completion_tokens", 0) / n_add,
            "stored_per_session": sum(stored) / n_add,
            "hits_per_search": sum(hits) / max(1, len(hits)),
            "wall_s": time.perf_counter() - t_start,
            "failures": info.get("internal_failures", {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=2, help="LoCoMo sessions of conv-26 to add")
    ap.add_argument("--turns", type=int, default=4, help="turns kept per session (0 = all)")
    ap.add_argument("--questions", type=int, default=4, help="questions searched per namespace")
    ap.add_argument("--systems", default="amem,mem0,langmem,slm,graphiti,memos",
                    help="system specs separated by ';' or ',' (options: 'mem0:max_tokens=512')")
    ap.add_argument("--llm", default=None, help="URL::MODEL; default: start the embedded server")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    conv = loader.load()[0]
    server = None
    if args.llm:
        endpoint = parse_llm_spec(args.llm)
    else:
        from memeval.server import EmbeddedServer
        server = EmbeddedServer().start()
        endpoint = server.endpoint()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            specs = args.systems.split(";") if ";" in args.systems else args.systems.split(",")
            for name in ["rag-dense", *specs]:
                rows.append(run_one(name, endpoint, conv, args.sessions, args.turns,
                                    args.questions, Path(tmp)))
                print(f"  done {name}: {rows[-1]['wall_s']:.0f} s", flush=True)
    finally:
        if server is not None:
            server.stop()
    ref = rows[0]
    print(f"\nLoCoMo {conv.sample_id}: {args.sessions} sessions x {args.turns or 'all'} turns, "
          f"{args.questions} questions; latencies in seconds (search: ratio to rag-dense)")
    head = (f"{'system':9} {'adds':>4} {'add p50':>16} {'add p95':>9} {'search p50':>18} "
            f"{'search p95':>10} {'calls/add':>9} {'ptok/add':>8} {'ctok/add':>8} "
            f"{'stored/sess':>11} {'hits/q':>6}")
    print(head)
    for r in rows:
        sratio = r["search_p50"] / ref["search_p50"] if ref["search_p50"] else float("nan")
        print(f"{r['system'][:9]:9} {r['adds']:>4} {r['add_p50']:>16.3f} "
              f"{r['add_p95']:>9.3f} {r['search_p50']:>9.4f} ({sratio:>5.1f}x) "
              f"{r['search_p95']:>10.4f} {r['calls_per_add']:>9.2f} "
              f"{r['prompt_tok_per_add']:>8.0f} {r['completion_tok_per_add']:>8.0f} "
              f"{r['stored_per_session']:>11.2f} {r['hits_per_search']:>6.1f}")
    print("\ninternal failures (kind: count)")
    for r in rows[1:]:
        print(f"  {r['system']}: {r['failures'] or 'none'}")


if __name__ == "__main__":
    main()
