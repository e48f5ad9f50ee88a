"""`memeval ls [tasks|systems|suites] [-v]`: what is registered (built-ins and plug-ins)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from memeval import registry
from memeval import suite as suites
from memeval.commands.common import IO


def register(sub: Any) -> None:
    ls = sub.add_parser("ls", help="list tasks, systems and suites")
    ls.add_argument("what", nargs="?", choices=["tasks", "systems", "suites"])
    ls.add_argument("-v", "--verbose", action="store_true",
                    help="tasks: their options, flags and metrics (imports each task)")
    ls.set_defaults(func=cmd_ls)


def _task_details(name: str) -> str:
    cls = registry.resolve("task", name)
    opts = ", ".join(f"{o.name}{' (' + o.flag + ')' if o.flag else ''}" for o in cls.options)
    mets = ", ".join(m.name for m in cls.metrics)
    return (f"drives {cls.system_kind} systems; judges: {', '.join(cls.judges) or 'none'}\n"
            f"options: {opts or 'none'}\nmetrics: {mets}")


def cmd_ls(args: argparse.Namespace, io: IO) -> int:
    sections = {"tasks": {k: e.summary for k, e in registry.names("task").items()},
                "systems": {k: e.summary for k, e in registry.names("system").items()},
                "suites": suites.names()}
    for what, rows in sections.items():
        if args.what and args.what != what:
            continue
        t = Table(title=what, title_justify="left", show_header=False, box=None)
        for name, desc in rows.items():
            if args.verbose and what == "tasks":
                desc = f"{desc}\n{_task_details(name)}"
            t.add_row(f"[bold]{name}[/]", desc)
        io.out.print(t)
    return 0
