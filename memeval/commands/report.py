"""`memeval report RUN [--compare RUN2] [--out DIR]`: report.html and report.md."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from memeval.commands.common import IO
from memeval.errors import UserError
from memeval.report import write_report


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="reproducibility report + evaluation card "
                                      "(report.html, self-contained, and report.md)")
    p.add_argument("run", type=Path)
    p.add_argument("--compare", type=Path, metavar="RUN2", action="append",
                   help="add paired differences against another run of the same task "
                        "(repeatable; runs of other settings also give the three-setting view)")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: the run)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace, io: IO) -> int:
    for other in args.compare or []:
        if not other.exists():
            raise UserError(f"--compare {other}: no such run folder")
    html_path, md_path = write_report(args.run, args.compare, args.out)
    io.out.print(f"written: {html_path}\n         {md_path}", highlight=False)
    return 0
