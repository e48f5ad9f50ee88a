"""Opening the LLM endpoint a command needs: a URL or hosted endpoint, or the embedded server
started for the duration of an ExitStack; with the response cache and a client around it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from memeval.llm import LLMClient


@dataclass
class LLMOptions:
    """What the user chose on the command line (`--llm`, `--cache`, `--no-cache`, ...)."""

    spec: str | None = None  # URL::MODEL, openai:MODEL, SERVER:PATH; None = embedded
    cache: Path | None = None
    no_cache: bool = False
    retries: int = 4
    concurrency: int | None = None  # default: 1 for llama.cpp (one request at a time), else 8


def open_llm(opts: LLMOptions, stack: ExitStack, log_dir: Path | None = None,
             notify: Callable[[str], None] = print) -> LLMClient:
    from memeval.endpoint import parse_llm_spec
    from memeval.llm_cache import ResponseCache, default_cache_path
    from memeval.registry import server_spec

    started = server_spec(opts.spec) if opts.spec else None
    if started is not None:  # a server memeval starts and stops with the run (NAME:PATH)
        cls, path = started
        name = opts.spec.split(":", 1)[0] if opts.spec else ""
        srv = cls(path, log_path=(log_dir / f"{name}-server.log") if log_dir else None)
        stack.callback(srv.stop)  # registered first: a start cut short still stops it
        srv.start(notify=notify)
        endpoint = srv.endpoint()
    elif opts.spec:
        endpoint = parse_llm_spec(opts.spec)
    else:
        from memeval.server import EmbeddedServer

        log = (log_dir / "llama-server.log") if log_dir else None
        notify("starting the embedded LLM server (SmolLM2-135M-Instruct, llama.cpp)...")
        server = stack.enter_context(EmbeddedServer(log_path=log))
        endpoint = server.endpoint()
    cache = None if opts.no_cache else ResponseCache(opts.cache or default_cache_path())
    conc = opts.concurrency or (1 if endpoint.backend == "llamacpp" else 8)
    client = LLMClient(endpoint, cache=cache, max_connections=conc, retries=opts.retries)
    stack.callback(client.close)
    return client
