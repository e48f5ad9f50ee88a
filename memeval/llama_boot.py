"""llama.cpp started the same way on every machine: weight repacking off (and greedy JSON
decoding through memeval.llama_sampling).

llama.cpp repacks weights at load into CPU-specific layouts ("extra buffer types": AMX tiles,
AVX-512 interleaved blocks) when the CPU has them. Measured on a 2-core AMX machine (Sapphire
Rapids class, in a sandbox): any prompt of more than one token then segfaults inside
`llama_decode`, for the embedded server and for in-process `Llama` alike; with repacking off
the same build answers. Off everywhere also keeps greedy outputs from depending on which
kernels a CPU offers. `python -m memeval.llama_boot <llama_cpp.server args>` runs the server so.

Also: a KV state saved for the server's RAM cache (`--cache`) keeps llama.cpp's own state
(the KV cells in use: 23 MB for 1,000 tokens of SmolLM2) plus, in llama-cpp-python 0.3.x, a
copy of its logits array (n_batch x vocab floats: 100 MB) that nothing reads unless the model
was loaded with `logits_all` (sampling runs in llama.cpp's sampler, and a restored state is
decoded again before sampling). Measured: save 0.28 s and load 0.50 s per call, and a cache
whose size limit counts only the 23 MB grows the server's memory by 100 MB more per entry.
Without that copy, save and load take ~0.01 s and the limit is what the server holds.
"""

from __future__ import annotations

import os
import runpy
from typing import Any


def patch() -> None:
    """Make every `llama_cpp.Llama` created afterwards load without extra buffer types."""
    import llama_cpp
    import llama_cpp.llama as llama_mod

    if getattr(llama_cpp, "_memeval_no_repack", False):
        return
    default = llama_cpp.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    llama_cpp.llama_model_default_params = params
    llama_mod.llama_cpp.llama_model_default_params = params
    _lean_states(llama_mod)
    from memeval import llama_sampling

    llama_sampling.install(llama_mod)  # greedy grammar decoding without a full mask per token
    if os.environ.get("MEMEVAL_LLAMA_PREFIX_REUSE") == "0":
        _no_prefix_reuse(llama_mod)
    llama_cpp._memeval_no_repack = True  # type: ignore[attr-defined]


def _no_prefix_reuse(llama_mod: Any) -> None:
    """For measuring only (benchmarks/halumem_cost.py): every prompt is decoded from scratch,
    so the same prompts can be timed with and without llama.cpp's prefix reuse."""
    generate = llama_mod.Llama.generate

    def cold_generate(self: Any, *args: Any, **kw: Any) -> Any:
        self.n_tokens = 0  # no previous tokens to match: generate() resets and decodes all
        return generate(self, *args, **kw)

    llama_mod.Llama.generate = cold_generate


def _lean_states(llama_mod: Any) -> None:
    """save_state/load_state without the unread logits copy (models without logits_all)."""
    import ctypes

    import numpy as np

    cls = llama_mod.Llama
    full_save, full_load = cls.save_state, cls.load_state
    c = llama_mod.llama_cpp

    def save_state(self: Any) -> Any:
        if self._logits_all:
            return full_save(self)
        size = c.llama_state_get_size(self._ctx.ctx)
        buf = (ctypes.c_uint8 * int(size))()
        n = int(c.llama_state_get_data(self._ctx.ctx, buf, size))
        if n > int(size):
            raise RuntimeError("Failed to copy llama state data")
        return llama_mod.LlamaState(input_ids=self.input_ids.copy(),
                                    scores=np.empty((0, self._n_vocab), dtype=np.single),
                                    n_tokens=self.n_tokens, llama_state=bytes(buf)[:n],
                                    llama_state_size=n, seed=self._seed)

    def load_state(self: Any, state: Any) -> None:
        if self._logits_all or len(state.scores):
            return full_load(self, state)
        self.input_ids = state.input_ids.copy()
        self.n_tokens = state.n_tokens
        self._requires_eval = True  # logits come from the next decode, as after a full load
        self._seed = state.seed
        buf = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
        if c.llama_state_set_data(self._ctx.ctx, buf, state.llama_state_size) \
                != state.llama_state_size:
            raise RuntimeError("Failed to set llama state data")

    cls.save_state, cls.load_state = save_state, load_state


def one_llama_thread(app: Any) -> None:
    """The server's llama.cpp calls all on one thread (they are serialised by its lock anyway).

    starlette's threadpool runs each request on whichever of its 40 worker threads is free.
    Each thread that calls llama.cpp becomes the master of its own OpenMP team, and once the
    process holds more OpenMP threads than CPUs, libgomp throttles its spin-wait (gomp's
    "throttled" spin count) and the decode's threads sleep and wake at each of its ~300
    barriers. Measured on 2 cores, 2 server threads: a run of judge calls switched, at the
    first request served by a second worker thread, from ~60 to ~400 voluntary context switches
    per generated token and from 0.5 s to 1.0 s a call, and stayed there; in process, with one
    calling thread, never."""
    import asyncio
    import functools
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

    async def run_in_threadpool(func: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(func, *args, **kwargs))

    async def iterate_in_threadpool(iterator: Any) -> Any:
        done = object()
        while (item := await run_in_threadpool(next, iterator, done)) is not done:
            yield item

    app.run_in_threadpool = run_in_threadpool
    app.iterate_in_threadpool = iterate_in_threadpool


if __name__ == "__main__":
    patch()
    import llama_cpp.server.app

    one_llama_thread(llama_cpp.server.app)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
