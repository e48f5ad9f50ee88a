"""memeval's LLM client vs a plain sequential OpenAI-SDK loop, and a cached rerun vs the first run.

Measured in one run against the embedded llama.cpp server (SmolLM2-135M). llama-cpp-python's
server answers one request at a time, so concurrency is expected to gain little there (vLLM
batches); the cache ratio is what matters locally.

    .venv/bin/python benchmarks/llm_throughput.py [--n 24] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from openai import OpenAI

from memeval.llm import LLMClient
from memeval.llm_cache import ResponseCache
from memeval.server import EmbeddedServer
from memeval.tasks.locomo import loader


def prompts(n: int) -> list[list[dict[str, str]]]:
    conv = loader.load()[0]
    turns = [t for s in conv.sessions for t in s.turns][:n]
    return [[{"role": "user", "content": f"In a few words, what is this about? {t.text}"}]
            for t in turns]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    a = ap.parse_args()
    msgs = prompts(a.n)
    with EmbeddedServer() as srv, tempfile.TemporaryDirectory() as tmp:
        ep = srv.endpoint()
        sdk = OpenAI(base_url=srv.url, api_key="none")
        sdk.chat.completions.create(model=ep.model, messages=msgs[0], max_tokens=1)  # warm-up

        t0 = time.perf_counter()
        for m in msgs:
            sdk.chat.completions.create(model=ep.model, messages=m, max_tokens=a.max_tokens,
                                        temperature=0, seed=0)
        t_sdk = time.perf_counter() - t0

        client = LLMClient(ep, cache=ResponseCache(Path(tmp) / "c.sqlite"),
                           max_connections=a.concurrency)

        async def batch() -> None:
            await asyncio.gather(*(client.chat(m, max_tokens=a.max_tokens) for m in msgs))

        t0 = time.perf_counter()
        asyncio.run(batch())
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        asyncio.run(batch())
        t_cached = time.perf_counter() - t0
        client.close()
    print(f"{a.n} chat requests, max_tokens={a.max_tokens}, embedded llama.cpp server")
    print(f"plain OpenAI SDK, sequential       : {t_sdk:8.3f} s")
    print(f"memeval client, concurrency {a.concurrency:<2}     : {t_first:8.3f} s   "
          f"ratio sdk/memeval = {t_sdk / t_first:.2f}x")
    print(f"memeval client, fully cached rerun : {t_cached:8.3f} s   "
          f"ratio first/cached = {t_first / t_cached:.0f}x")


if __name__ == "__main__":
    main()
