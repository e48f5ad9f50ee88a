"""`memeval run`: a suite or a task against one or more systems, resumable.

Task options come as `--task NAME:key=value`, from the suite file, or as flags a task declares
(`OptionSpec.flag`, e.g. HaluMem's `--limit-sessions`): those are parsed once the tasks of the
command are known, so the engine knows no task's flags."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from memeval import registry
from memeval import suite as suites
from memeval.commands.common import IO, llm_args, llm_options
from memeval.errors import UserError, nearest
from memeval.llm_open import open_llm


def register(sub: Any) -> None:
    r = sub.add_parser("run", help="run a suite or a task against one or more systems "
                                   "(resumes an interrupted run of the same command)",
                       epilog="Task flags (e.g. --data, --limit-sessions) are declared by the "
                              "tasks: `memeval ls tasks -v` lists them.")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--suite", help="suite name (see `memeval ls`) or a suite YAML file")
    src.add_argument("--task", help="task name, with options: locomo:k=20")
    r.add_argument("--system", action="append", help="system, with options: rag-bm25:k=20 "
                   "(repeatable; overrides the suite's systems)")
    r.add_argument("--limit", type=int, help="first N samples only (in data order)")
    r.add_argument("--seed", type=int, action="append", help="seed (repeatable; default 0)")
    r.add_argument("--judge", help="judge kind the task offers (llm; exact for HaluMem's "
                   "text-match check), or none (default: the suite's)")
    llm_args(r)
    r.add_argument("--out", type=Path, help="run folder (one job) or parent folder (several "
                   "jobs); default runs/<task>__<system>__s<seed>[__n<limit>]")
    r.add_argument("--concurrency", type=int, help="parallel conversations/requests (default 1 "
                   "for the embedded server, which serves one request at a time; 8 otherwise)")
    r.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where a job's groups (conversations, users) run: in this process "
                        "(local, default) or as Ray tasks, --concurrency at a time (ray; "
                        "pip install 'memeval[ray]')")
    r.add_argument("--ray-address", help="Ray cluster to join with --executor ray (default: "
                   "$RAY_ADDRESS, else a local cluster with --concurrency CPUs); its workers "
                   "must reach the --llm endpoint")
    r.add_argument("--plan", nargs="?", const="", metavar="JSON_FILE",
                   help="print samples, clusters, calls per caller, tokens and an ETA (from a "
                        "few timed calls on the endpoint) without running; JSON_FILE: also "
                        "write them as JSON")
    r.set_defaults(func=cmd_run, takes_extra=True)


def task_flags(tasks: list[str], extra: list[str]) -> dict[str, dict[str, Any]]:
    """Options per task from the flags its class declares; an unknown flag is an error naming
    the nearest declared one."""
    declared: dict[str, list[tuple[str, str]]] = {}
    for t in tasks:
        for o in registry.resolve("task", t).options:
            if o.flag:
                declared.setdefault(o.flag, []).append((t, o.name))
    p = argparse.ArgumentParser(prog="memeval run", add_help=False)
    for flag in declared:
        p.add_argument(flag, dest=flag)
    ns, rest = p.parse_known_args(extra)
    if rest:
        bad = next((x for x in rest if x.startswith("-")), rest[0])
        hint = nearest(bad.split("=")[0], [*declared, "--limit", "--system", "--seed",
                                           "--judge", "--out", "--llm"])
        raise UserError(f"unknown argument {bad!r} for the task(s) {', '.join(tasks)}"
                        + (f"; did you mean {', '.join(hint)}?" if hint else "")
                        + (f" (their flags: {', '.join(sorted(declared))})" if declared else ""))
    out: dict[str, dict[str, Any]] = {t: {} for t in tasks}
    for flag, users in declared.items():
        value = getattr(ns, flag)
        if value is not None:
            for t, name in users:
                out[t][name] = value
    return out


def load_suite(args: argparse.Namespace) -> suites.Suite:
    if args.suite:
        return suites.load(args.suite)
    name, opts = registry.parse_spec(args.task)
    return suites.Suite(name="", description="", tasks=[suites.SuiteTask(name, opts)],
                        systems=[], seeds=[0])


def jobs_of(args: argparse.Namespace, suite: suites.Suite) -> list[Any]:
    from memeval.runner import JobSpec

    judge = (None if args.judge == "none" else args.judge) if args.judge else suite.judge
    flags = task_flags(list(dict.fromkeys(t.task for t in suite.tasks)), args.extra)
    jobs = []
    for t in suite.tasks:
        cls = registry.resolve("task", t.task)
        if judge is not None and judge not in cls.judges:
            raise UserError(f"task {t.task!r} has no judge {judge!r}; "
                            + (f"its judges: {', '.join(cls.judges)}" if cls.judges else
                               "it scores without a judge (drop --judge)"))
        systems = args.system or t.systems or suite.systems
        if not systems:
            raise UserError("no system given: pass --system NAME (see `memeval ls systems`)")
        topts = {**t.options, **flags[t.task]}
        to_system = {o.name for o in cls.options if o.system_option} & set(topts)
        for sys_spec in systems:
            sname, sopts = registry.parse_spec(sys_spec)
            for key in to_system:  # a pack flag that sets a system option (e.g. --backend)
                if key in sopts and str(sopts[key]) != str(topts[key]):
                    raise UserError(f"{key} is set twice, differently: {sys_spec} and "
                                    f"{t.task}'s {key}={topts[key]}")
            sopts = {**sopts, **{k: topts[k] for k in to_system}}
            for seed in args.seed or suite.seeds:
                jobs.append(JobSpec(task=t.task, system=sname,
                                    task_options={k: v for k, v in topts.items()
                                                  if k not in to_system},
                                    system_options=sopts, seed=seed,
                                    limit=args.limit if args.limit is not None else t.limit,
                                    judge=judge, suite=suite.name or None))
    return jobs


def cmd_run(args: argparse.Namespace, io: IO) -> int:
    from memeval.runner import Runner, check_pairing, task_options
    from memeval.show import print_results

    if args.ray_address and args.executor != "ray":
        raise UserError("--ray-address is for --executor ray")
    if args.executor == "ray":
        from memeval.executor_ray import require_ray
        require_ray()  # before any server starts: a missing Ray is one line, not a slow fail
    suite = load_suite(args)
    jobs = jobs_of(args, suite)
    root = Path(os.environ.get("MEMEVAL_RUNS", "runs"))
    outs = [args.out if (args.out and len(jobs) == 1) else j.default_out(args.out or root)
            for j in jobs]
    needs_llm = False
    for j in jobs:  # validate every name and pairing before starting anything slow
        cls = registry.resolve("task", j.task)
        task_options(cls, j.task_options)
        check_pairing(cls, j)
        needs_llm |= bool(cls.needs_llm)
    if args.plan is not None:
        from memeval.plan_eta import cmd_plan
        return cmd_plan(jobs, outs, llm_options(args), args.concurrency, args.plan or None, io)
    with ExitStack() as stack:
        # Packs that train and probe models themselves (needs_llm = False) start no server.
        llm = (open_llm(llm_options(args), stack, log_dir=outs[0].parent, notify=io.err.print)
               if needs_llm or args.llm else None)
        concurrency = args.concurrency or (llm.max_connections if llm else 1)
        executor = None
        if args.executor == "ray":
            from memeval.executor_ray import ray_executor
            executor = stack.enter_context(ray_executor(args.ray_address, concurrency, io.err))
        runner = Runner(llm, io.err, executor)
        for job, out in zip(jobs, outs):
            job.concurrency = concurrency
            io.err.print(f"[bold]{job.task}[/] x [bold]{job.system}[/] seed {job.seed} -> {out}")
            folder = runner.run(job, out, ["memeval", *sys.argv[1:]])
            print_results(io.out, folder)
    if suite.compare:
        compare_suite(jobs, outs, io)
    across_runs(jobs, outs, io)
    if suite.epilogue:
        io.out.print(suite.epilogue, highlight=False)
    return 0


def across_runs(jobs: list[Any], outs: list[Path], io: IO) -> None:
    """Each task's view of all its runs in this invocation (the task's `across_runs`)."""
    by_task: dict[str, list[Path]] = {}
    for job, out in zip(jobs, outs):
        by_task.setdefault(job.task, []).append(out)
    for task, paths in by_task.items():
        hook = getattr(registry.resolve("task", task), "across_runs", None)
        if len(paths) > 1 and hook is not None:
            for line in hook(paths, paths[0].parent / f"{task}__across_runs"):
                io.out.print(line, highlight=False)


def compare_suite(jobs: list[Any], outs: list[Path], io: IO) -> None:
    """The suite's paired comparison: its runs of each task, compared as `memeval compare`."""
    from memeval.commands.compare import print_report
    from memeval.comparison import compare_runs

    by_task: dict[str, list[Path]] = {}
    for job, out in zip(jobs, outs):
        by_task.setdefault(job.task, []).append(out)
    for task, paths in by_task.items():
        if len(paths) > 1:
            io.out.print(f"\n[bold]paired comparison on {task}[/] (memeval compare "
                         + " ".join(str(p) for p in paths) + ")")
            print_report(io.out, compare_runs(paths))
