"""Errors a user can cause. The CLI prints them as one message, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad config, malformed data, unknown name, unreachable server: the user can fix it."""


class EndpointDown(UserError):
    """The LLM endpoint could not be reached after all retries; the run stops, results stay."""


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Closest valid names for a 'did you mean' hint (prefix matches first)."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.5)
    prefix = [c for c in choices if c.startswith(name) or name.startswith(c)]
    out: list[str] = []
    for c in prefix + close:
        if c not in out:
            out.append(c)
    return out[:n]


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> UserError:
    choices = list(choices)
    hint = nearest(name, choices)
    msg = f"unknown {kind} {name!r}"
    if hint:
        msg += f"; did you mean {', '.join(repr(h) for h in hint)}?"
    msg += f" (valid: {', '.join(sorted(choices))})"
    return UserError(msg)
