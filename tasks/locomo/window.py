"""Fitting a conversation into the answer model's window (the full-context baseline)."""

from __future__ import annotations

from typing import Any


async def fit_to_window(llm: Any, lines: list[str], budget_tokens: int) -> tuple[list[str], int, int]:
    """Keep the newest lines that fit `budget_tokens`; returns (kept, dropped, tokens_used)."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        n = await llm.count_tokens(line) + 1  # +1 for the newline
        if used + n > budget_tokens:
            break
        kept.append(line)
        used += n
    kept.reverse()
    return kept, len(lines) - len(kept), used
