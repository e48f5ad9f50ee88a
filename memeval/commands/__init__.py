"""The `memeval` command line: one module per command, each with `register(subparsers)` that
sets `func(args, io)` on its parser. Commands receive the consoles (`IO`); nothing in memeval
imports this package back. User errors print one message (no traceback) and exit 2."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rich.markup import escape

from memeval import __version__
from memeval.commands.common import IO
from memeval.errors import UserError

COMMANDS = ("run", "score", "show", "ls", "serve", "compare", "report", "reproduce", "audit",
            "gov", "leaderboard")

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
    for name in COMMANDS:
        importlib.import_module(f"memeval.commands.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    # Libraries' own tqdm bars (transformers' GGUF dequantizing, datasets, lm-eval) would
    # flood the console between memeval's progress lines (TQDM_DISABLE=0 shows them).
    os.environ.setdefault("TQDM_DISABLE", "1")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    io = IO.default()
    if not args.cmd:
        parser.print_help()
        return 0
    try:
        if extra and not getattr(args, "takes_extra", False):
            raise UserError(f"unrecognized arguments: {' '.join(extra)} "
                            f"(see `memeval {args.cmd} --help`)")
        args.extra = extra
        return int(args.func(args, io) or 0)
    except UserError as e:
        # escaped: a message may hold brackets (`pip install 'memeval[ray]'`, a JSON path)
        io.err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        io.err.print("interrupted: finished results are on disk; rerun the same command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
