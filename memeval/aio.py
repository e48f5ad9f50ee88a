"""Running a batch of coroutines concurrently without leaking tasks when one of them fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def completed(coros: Iterable[Awaitable[T]], limit: int) -> AsyncIterator[T]:
    """Yield results in completion order, at most `limit` running at once.

    If one raises (or the consumer stops early), the others are cancelled and awaited, so the
    error surfaces once and asyncio never logs "Task exception was never retrieved".
    """
    sem = asyncio.Semaphore(max(1, limit))

    async def bounded(c: Awaitable[T]) -> T:
        async with sem:
            return await c

    tasks = [asyncio.ensure_future(bounded(c)) for c in coros]
    try:
        for fut in asyncio.as_completed(tasks):
            yield await fut
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
