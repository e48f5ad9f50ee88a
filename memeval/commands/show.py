"""`memeval show RUN`: the run's metrics table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from memeval.commands.common import IO
from memeval.runfolder import RunFolder
from memeval.show import print_results


def register(sub: Any) -> None:
    sh = sub.add_parser("show", help="print a run's metrics table")
    sh.add_argument("run", type=Path)
    sh.add_argument("--convention", metavar="NAME",
                    help="naming of the strata, among those the run's task declares "
                         "(e.g. LoCoMo: data, mem0)")
    sh.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace, io: IO) -> int:
    print_results(io.out, RunFolder(args.run).require(), convention=args.convention)
    return 0
