"""`memeval serve`: the embedded LLM server, or a registered one (e.g. vLLM's), for other tools."""

from __future__ import annotations

import argparse
import time
from typing import Any

from memeval.commands.common import IO

EMBEDDED = "llamacpp"


def register(sub: Any) -> None:
    from memeval.registry import SERVERS

    sv = sub.add_parser("serve", help="start an LLM server (the embedded llama.cpp one, or a "
                        "registered one such as vLLM's) and print its URL")
    sv.add_argument("--port", type=int)
    sv.add_argument("--backend", choices=[EMBEDDED, *SERVERS], default=EMBEDDED,
                    help=f"{EMBEDDED}: the embedded SmolLM2-135M GGUF; " + "; ".join(
                        f"{n}: {e.summary}" for n, e in SERVERS.items()))
    sv.add_argument("--model", help="a local checkpoint folder for a registered server "
                    "(default: SmolLM2-135M exported from the embedded GGUF, once)")
    sv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, io: IO) -> int:
    if args.backend != EMBEDDED:
        from memeval.registry import resolve_server

        srv: Any = resolve_server(args.backend)(args.model, port=args.port)
        name = args.backend
        srv.start(notify=io.err.print)
    else:
        if args.model:
            from memeval.errors import UserError

            raise UserError(f"--model is for a registered server (--backend); {EMBEDDED} "
                            "serves the embedded SmolLM2-135M only")
        from memeval.server import EmbeddedServer

        srv = EmbeddedServer(port=args.port).start()
        name = "embedded LLM"
    try:
        ep = srv.endpoint()
        # llama.cpp's server answers one request at a time: a URL endpoint otherwise gets 8
        # in flight, which interleaves prompts that share a prefix (HaluMem's judges) and
        # undoes llama.cpp's prefix reuse
        serial = " --concurrency 1" if ep.backend == "llamacpp" else ""
        io.out.print(f"{name} at {srv.url} (model {ep.model}); use it with\n"
                     f"  --llm {srv.url}::{ep.model}{serial}\nCtrl-C stops it.")
        while srv.proc is not None and srv.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0
