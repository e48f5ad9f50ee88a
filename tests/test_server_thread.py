"""The embedded server runs every llama.cpp call on one thread (memeval.llama_boot.
one_llama_thread): with starlette's pool, concurrent requests made several threads OpenMP
masters, libgomp then throttled its spin-wait, and generation ran at half speed."""

from __future__ import annotations

import asyncio
import os
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import httpx

from memeval.llama_boot import one_llama_thread


def test_calls_and_iterations_share_one_thread_that_is_not_the_loop():
    app = types.SimpleNamespace()
    one_llama_thread(app)
    seen: list[int] = []

    def work(x: int) -> int:
        seen.append(threading.get_ident())
        threading.Event().wait(0.01)  # overlapping calls would need more threads
        return x * 2

    def numbers():
        for i in range(3):
            seen.append(threading.get_ident())
            yield i

    async def main() -> tuple[list[int], list[int]]:
        doubled = await asyncio.gather(*(app.run_in_threadpool(work, i) for i in range(6)))
        items = [i async for i in app.iterate_in_threadpool(numbers())]
        return list(doubled), items

    doubled, items = asyncio.run(main())
    assert doubled == [0, 2, 4, 6, 8, 10] and items == [0, 1, 2]
    assert len(seen) == 9 and len(set(seen)) == 1 and seen[0] != threading.get_ident()


def _cpu_ticks(pid: int) -> dict[str, int]:
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[tid] = int(fields[11]) + int(fields[12])
    return ticks


def test_concurrent_requests_run_on_the_same_threads(llm_server):
    """Four requests at once: with starlette's pool each waits on its own worker thread and
    each becomes an OpenMP master; here only the server's n_threads threads compute."""
    body = {"model": llm_server.endpoint().model, "temperature": 0, "max_tokens": 24,
            "messages": [{"role": "user", "content": "Count from one to twenty in words."}]}

    def ask(i: int) -> int:
        msg = {"role": "user", "content": f"Request {i}. Count from one to twenty in words."}
        r = httpx.post(f"{llm_server.url}/chat/completions",
                       json={**body, "messages": [msg]}, timeout=300)
        r.raise_for_status()
        return r.json()["usage"]["completion_tokens"]

    ask(-1)  # the first request of the session (loads nothing new, fixes the thread)
    before = _cpu_ticks(llm_server.proc.pid)
    with ThreadPoolExecutor(4) as pool:
        assert all(n > 0 for n in pool.map(ask, range(4)))
    after = _cpu_ticks(llm_server.proc.pid)
    busy = [t for t, v in after.items() if v - before.get(t, 0) >= 5]  # >= 50 ms of CPU
    assert 1 <= len(busy) <= llm_server.threads, (busy, llm_server.threads)
