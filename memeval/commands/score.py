"""`memeval score RUN`: rebuild item scores and results from the stored predictions and judge
verdicts (no system calls); judge what lacks verdicts with --judge, everything with --rejudge."""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from memeval.commands.common import IO, llm_args, llm_options
from memeval.llm_open import open_llm
from memeval.run_context import RunContext
from memeval.runfolder import RunFolder
from memeval.runner import JobSpec, make_task
from memeval.scoring import guard_rescore, reseal, score_run, will_judge
from memeval.show import print_results


def register(sub: Any) -> None:
    s = sub.add_parser("score", help="re-score a run from its stored predictions (no system "
                                     "calls; judge verdicts reused unless --rejudge)")
    s.add_argument("run", type=Path)
    s.add_argument("--judge", action="store_true", help="also judge predictions lacking verdicts")
    s.add_argument("--rejudge", action="store_true", help="discard stored verdicts and rejudge")
    llm_args(s)
    s.set_defaults(func=cmd_score)


def rescore(folder: RunFolder, *, judge: bool, rejudge: bool, args: argparse.Namespace,
            io: IO) -> None:
    m = folder.manifest()
    cfg = m.config
    spec = JobSpec(task=cfg["task"], system=cfg["system"], task_options=cfg["task_options"],
                   system_options=cfg["system_options"], seed=cfg["seed"], limit=cfg["limit"],
                   judge=cfg.get("judge"))
    task = make_task(spec)
    with ExitStack() as stack:
        ctx = RunContext(llm=None, seed=spec.seed, system_name=spec.system, judge=spec.judge)
        judging = (judge or rejudge) and spec.judge is not None
        if judging and spec.judge == "llm":
            ctx.llm = open_llm(llm_options(args), stack, notify=io.err.print)
            ctx.concurrency = ctx.llm.max_connections
        if judging and not will_judge(task, ctx):
            judging = False
        rewrites = {"scores.jsonl", "metrics.json"} | ({"verdicts.jsonl"} if judging else set())
        guard_rescore(folder, frozenset(rewrites))
        asyncio.run(score_run(folder, task, ctx, judge=judging, rejudge=rejudge))
    reseal(folder, {"judged": judging, "rejudge": rejudge, "task_version": task.version})


def cmd_score(args: argparse.Namespace, io: IO) -> int:
    folder = RunFolder(args.run).require()
    rescore(folder, judge=args.judge, rejudge=args.rejudge, args=args, io=io)
    print_results(io.out, folder)
    return 0
