"""`memeval reproduce RUN [--out NEW]`: rerun and flag metrics outside the original CIs (exit 1)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from memeval.commands.common import IO, llm_args, llm_options
from memeval.reproduce import reproduce
from memeval.show import fmt, fmt_ci


def register(sub: Any) -> None:
    p = sub.add_parser("reproduce", help="rerun a run's configuration into a new folder and "
                                         "report metrics that differ beyond their CIs (exit 1)")
    p.add_argument("run", type=Path)
    p.add_argument("--out", type=Path, metavar="NEW", help="new run folder "
                   "(default: RUN__repro beside the original)")
    llm_args(p)
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace, io: IO) -> int:
    rep = reproduce(args.run, args.out, llm_options(args), io.err, io.err.print)
    t = Table(title=f"reproduction of {rep.original} -> {rep.rerun} ('all' estimator, x100)",
              title_justify="left")
    for col in ("metric", "original", "original 95% CI", "rerun", "within CI"):
        t.add_column(col)
    for c in rep.checks:
        t.add_row(c.metric, fmt(c.original, c.unit), fmt_ci(c.original_ci, c.unit),
                  fmt(c.rerun, c.unit),
                  "[red]NO[/]" if c.differs else "yes")
    io.out.print(t)
    if rep.differing:
        io.out.print(f"differ beyond the original CI: {', '.join(rep.differing)}")
        return 1
    io.out.print("all metrics within the original CIs")
    return 0
