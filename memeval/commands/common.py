"""What the commands share: the consoles and the LLM endpoint arguments."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from memeval.llm_open import LLMOptions


@dataclass
class IO:
    out: Console  # results (tables)
    err: Console  # progress, warnings, errors: one message = one line, however long

    @classmethod
    def default(cls) -> IO:
        out = Console()
        if not out.is_terminal:
            out = Console(width=120)  # piped output: wide enough for metric tables
        return cls(out=out, err=Console(stderr=True, soft_wrap=True))


def llm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", help="LLM endpoint: http://host:port/v1::MODEL, openai:MODEL or "
                   "vllm:CHECKPOINT_DIR (memeval starts vLLM's server from .venv-vllm) "
                   "(default: start the embedded SmolLM2-135M server)")
    p.add_argument("--cache", type=Path, help="response cache file "
                   "(default ~/.cache/memeval/responses.sqlite or $MEMEVAL_CACHE_DIR)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--retries", type=int, default=4, help="retries per LLM request (backoff)")


def llm_options(args: argparse.Namespace) -> LLMOptions:
    return LLMOptions(spec=args.llm, cache=args.cache, no_cache=args.no_cache,
                      retries=args.retries, concurrency=getattr(args, "concurrency", None))
