"""The `memeval` command line. User errors print one message (no traceback) and exit 2."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console

from memeval import __version__
from memeval.errors import UserError

console = Console()
if not console.is_terminal:
    console = Console(width=120)  # piped output: wide enough for metric tables
err = Console(stderr=True, soft_wrap=True)  # one error = one line, however long

# Modules with a `register(subparsers)` that adds their commands (each sets `func` on its parser).
EXTENSIONS: list[str] = ["memeval.compare", "memeval.audit_cli", "memeval.gov", "memeval.report",
                          "memeval.reproduce", "memeval.leaderboard_cli"]

EPILOG = """examples:
  memeval run --suite demo                          offline demo on the embedded LLM
  memeval run --task locomo --system rag-bm25 --limit 50
  memeval run --task locomo --system rag-dense:k=20 --llm http://localhost:8000/v1::Qwen2.5-7B
  memeval show runs/locomo__rag-bm25__s0__n50
  memeval score runs/locomo__rag-bm25__s0__n50      re-score stored predictions (no system calls)
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="memeval", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Evaluate memory in LLM systems: faithful task packs, "
                                            "real systems, paired statistics, audit trails.")
    p.add_argument("--version", action="version", version=f"memeval {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    r = sub.add_parser("run", help="run a suite or a task against one or more systems "
                                   "(resumes an interrupted run of the same command)")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--suite", help="suite name (see `memeval ls`) or a suite YAML file")
    src.add_argument("--task", help="task name, with options: locomo:k=20")
    r.add_argument("--system", action="append", help="system, with options: rag-bm25:k=20 "
                   "(repeatable; overrides the suite's systems)")
    r.add_argument("--limit", type=int, help="first N samples only (in data order)")
    r.add_argument("--seed", type=int, action="append", help="seed (repeatable; default 0)")
    r.add_argument("--data", help="data file for the task (default: the bundled copy)")
    r.add_argument("--judge", choices=["llm", "exact", "none"],
                   help="judge metrics: llm, exact (HaluMem packs: deterministic text match), "
                        "none (default: the suite's)")
    r.add_argument("--limit-sessions", type=int, help="HaluMem packs: first N sessions per user")
    _llm_args(r)
    r.add_argument("--out", type=Path, help="run folder (one job) or parent folder (several "
                   "jobs); default runs/<task>__<system>__s<seed>[__n<limit>]")
    r.add_argument("--concurrency", type=int, help="parallel conversations/requests (default 1 "
                   "for the embedded server, which serves one request at a time; 8 otherwise)")

    s = sub.add_parser("score", help="re-score a run from its stored predictions (no system "
                                     "calls; judge verdicts reused unless --rejudge)")
    s.add_argument("run", type=Path)
    s.add_argument("--judge", action="store_true", help="also judge predictions lacking verdicts")
    s.add_argument("--rejudge", action="store_true", help="discard stored verdicts and rejudge")
    _llm_args(s)

    sh = sub.add_parser("show", help="print a run's metrics table")
    sh.add_argument("run", type=Path)
    sh.add_argument("--convention", choices=["data", "mem0"], default="data",
                    help="LoCoMo category names: data/official numbering or the Mem0 paper's")

    ls = sub.add_parser("ls", help="list tasks, systems and suites")
    ls.add_argument("what", nargs="?", choices=["tasks", "systems", "suites"])

    sv = sub.add_parser("serve", help="start the embedded LLM server and print its URL")
    sv.add_argument("--port", type=int)
    for name in EXTENSIONS:  # commands that live in their own modules register themselves
        importlib.import_module(name).register(sub)
    return p


def _llm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", help="LLM endpoint: http://host:port/v1::MODEL or openai:MODEL "
                   "(default: start the embedded SmolLM2-135M server)")
    p.add_argument("--cache", type=Path, help="response cache file "
                   "(default ~/.cache/memeval/responses.sqlite or $MEMEVAL_CACHE_DIR)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--retries", type=int, default=4, help="retries per LLM request (backoff)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.cmd:
        build_parser().print_help()
        return 0
    try:
        if hasattr(args, "func"):
            return int(args.func(args) or 0)
        return {"run": cmd_run, "score": cmd_score, "show": cmd_show, "ls": cmd_ls,
                "serve": cmd_serve}[args.cmd](args)
    except UserError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted: finished results are on disk; rerun the same command to resume")
        return 130


def open_llm(args: argparse.Namespace, stack: ExitStack, log_dir: Path | None = None) -> Any:
    from memeval.endpoint import parse_llm_spec
    from memeval.llm import LLMClient
    from memeval.llm_cache import ResponseCache, default_cache_path

    if args.llm:
        endpoint = parse_llm_spec(args.llm)
    else:
        from memeval.server import EmbeddedServer

        log = (log_dir / "llama-server.log") if log_dir else None
        err.print("starting the embedded LLM server (SmolLM2-135M-Instruct, llama.cpp)...")
        server = stack.enter_context(EmbeddedServer(log_path=log))
        endpoint = server.endpoint()
    cache = None if args.no_cache else ResponseCache(args.cache or default_cache_path())
    conc = getattr(args, "concurrency", None) or (1 if endpoint.backend == "llamacpp" else 8)
    client = LLMClient(endpoint, cache=cache, max_connections=conc, retries=args.retries)
    stack.callback(client.close)
    return client


def cmd_run(args: argparse.Namespace) -> int:
    from memeval import suite as suites
    from memeval.registry import parse_spec
    from memeval.runner import JobSpec, Runner
    from memeval.show import print_metrics

    if args.suite:
        suite = suites.load(args.suite)
    else:
        name, opts = parse_spec(args.task)
        suite = suites.Suite(name="", description="", tasks=[suites.SuiteTask(name, opts)],
                             systems=[], seeds=[0])
    systems = args.system or suite.systems
    if not systems:
        raise UserError("no system given: pass --system NAME (see `memeval ls systems`)")
    seeds = args.seed or suite.seeds
    judge = (None if args.judge == "none" else args.judge) if args.judge else suite.judge
    jobs = []
    for t in suite.tasks:
        opts = dict(t.options)
        if args.data:
            opts["data"] = args.data
        if args.limit_sessions is not None:
            opts["limit_sessions"] = args.limit_sessions
        for sys_spec in systems:
            sname, sopts = parse_spec(sys_spec)
            for seed in seeds:
                jobs.append(JobSpec(task=t.task, system=sname, task_options=opts,
                                    system_options=sopts, seed=seed,
                                    limit=args.limit if args.limit is not None else t.limit,
                                    judge=judge, suite=suite.name or None))
    root = Path(os.environ.get("MEMEVAL_RUNS", "runs"))
    outs = [args.out if (args.out and len(jobs) == 1) else j.default_out(args.out or root)
            for j in jobs]
    from memeval import registry
    needs_llm = False
    for j in jobs:  # validate every name before starting anything slow
        needs_llm |= bool(getattr(registry.resolve("task", j.task), "needs_llm", True))
        registry.resolve("system", j.system)
    with ExitStack() as stack:
        # Packs that train and probe models themselves (needs_llm = False) start no server.
        llm = open_llm(args, stack, log_dir=outs[0].parent) if needs_llm or args.llm else None
        runner = Runner(llm, err)
        for job, out in zip(jobs, outs):
            job.concurrency = args.concurrency or (llm.max_connections if llm else 1)
            err.print(f"[bold]{job.task}[/] x [bold]{job.system}[/] seed {job.seed} -> {out}")
            folder = runner.run(job, out, ["memeval", *sys.argv[1:]])
            print_metrics(console, folder)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import asyncio

    from memeval.context import RunContext
    from memeval.runfolder import RunFolder, write_json_atomic
    from memeval.runner import JobSpec, make_task
    from memeval.scoring import score_run
    from memeval.show import print_metrics

    folder = RunFolder(args.run).require()
    m = folder.manifest()
    cfg = m.config
    spec = JobSpec(task=cfg["task"], system=cfg["system"], task_options=cfg["task_options"],
                   system_options=cfg["system_options"], seed=cfg["seed"], limit=cfg["limit"],
                   judge=cfg.get("judge"))
    task = make_task(spec)
    previous = folder.metrics() if folder.metrics_path.exists() else {}
    with ExitStack() as stack:
        judging = bool(args.judge or args.rejudge) and spec.judge is not None
        llm = open_llm(args, stack) if judging and spec.judge == "llm" else None
        ctx = RunContext(llm=llm, seed=spec.seed, system_name=spec.system, judge=spec.judge,
                         concurrency=llm.max_connections if llm else 1)
        metrics = asyncio.run(score_run(folder, task, ctx, judge=judging, rejudge=args.rejudge))
    for key in ("counts", "cost", "system"):
        if key in previous:
            metrics[key] = previous[key]
    write_json_atomic(folder.metrics_path, metrics)
    print_metrics(console, folder)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from memeval.runfolder import RunFolder
    from memeval.show import print_metrics

    print_metrics(console, RunFolder(args.run).require(), convention=args.convention)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from rich.table import Table

    from memeval import registry
    from memeval import suite as suites

    sections = {"tasks": {k: e.summary for k, e in registry.names("task").items()},
                "systems": {k: e.summary for k, e in registry.names("system").items()},
                "suites": suites.names()}
    for what, rows in sections.items():
        if args.what and args.what != what:
            continue
        t = Table(title=what, title_justify="left", show_header=False, box=None)
        for name, desc in rows.items():
            t.add_row(f"[bold]{name}[/]", desc)
        console.print(t)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from memeval.server import EmbeddedServer

    with EmbeddedServer(port=args.port) as srv:
        ep = srv.endpoint()
        console.print(f"embedded LLM at {srv.url} (model {ep.model}); use it with\n"
                      f"  --llm {srv.url}::{ep.model}\nCtrl-C stops it.")
        try:
            while srv.proc is not None and srv.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
