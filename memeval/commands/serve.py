"""`memeval serve`: the embedded LLM server, for other tools."""

from __future__ import annotations

import argparse
import time
from typing import Any

from memeval.commands.common import IO


def register(sub: Any) -> None:
    sv = sub.add_parser("serve", help="start the embedded LLM server and print its URL")
    sv.add_argument("--port", type=int)
    sv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, io: IO) -> int:
    from memeval.server import EmbeddedServer

    with EmbeddedServer(port=args.port) as srv:
        ep = srv.endpoint()
        io.out.print(f"embedded LLM at {srv.url} (model {ep.model}); use it with\n"
                     f"  --llm {srv.url}::{ep.model}\nCtrl-C stops it.")
        try:
            while srv.proc is not None and srv.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0
