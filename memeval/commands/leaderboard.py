"""`memeval leaderboard [RUNS_DIR] [--port P]`: the Streamlit leaderboard over a folder of runs
(memeval.leaderboard.app), read-only. This process becomes `streamlit run` (exec), so stopping
it stops the server."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from memeval.commands.common import IO
from memeval.errors import UserError

ENV = "MEMEVAL_LEADERBOARD_RUNS"  # read by memeval/leaderboard/app.py as well as its argv
DEFAULT_PORT = 8501


def app_path() -> Path:
    spec = importlib.util.find_spec("memeval.leaderboard")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("memeval.leaderboard is not installed (reinstall memeval)")
    return Path(list(spec.submodule_search_locations)[0]) / "app.py"


def streamlit_command(runs_dir: Path, port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            "--server.port", str(port), "--server.address", address,
            "--server.headless", "true", "--server.fileWatcherType", "none",
            "--server.runOnSave", "false", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal",
            "--", str(runs_dir)]


def register(sub: Any) -> None:
    p = sub.add_parser("leaderboard", help="Streamlit leaderboard over a folder of runs "
                                           "(read-only): tables with CIs and ranks, system "
                                           "pages, side-by-side comparison")
    p.add_argument("runs_dir", nargs="?", type=Path, metavar="RUNS_DIR",
                   help="folder holding run folders, searched recursively "
                        "(default: $MEMEVAL_RUNS or runs)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to serve on (default {DEFAULT_PORT})")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.set_defaults(func=cmd_leaderboard)


def cmd_leaderboard(args: argparse.Namespace, io: IO) -> int:
    runs_dir = args.runs_dir or Path(os.environ.get("MEMEVAL_RUNS", "runs"))
    if not runs_dir.is_dir():
        raise UserError(f"runs folder {runs_dir} does not exist or is not a directory "
                        "(pass the folder your `memeval run --out` runs are in)")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: expected 1-65535")
    if importlib.util.find_spec("streamlit") is None:
        raise UserError("streamlit is not installed: pip install 'streamlit>=1.40,<2'")
    root = runs_dir.resolve()
    cmd = streamlit_command(root, args.port, args.address)
    io.out.print(f"memeval leaderboard: http://{args.address}:{args.port} over {root} "
                 "(read-only); Ctrl-C stops it", highlight=False, soft_wrap=True)
    io.out.file.flush()
    os.execve(sys.executable, cmd, {**os.environ, ENV: str(root)})
    return 0  # not reached
