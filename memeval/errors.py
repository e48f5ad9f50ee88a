"""Errors a user can cause. The CLI prints them as one message, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


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


def field_path(loc: Iterable[Any]) -> str:
    """('sessions', 4, 'memory_points', 2) -> sessions[4].memory_points[2]"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_message(err: Any, prefix: Iterable[Any] = ()) -> str:
    """The first error of a pydantic ValidationError as "<field path>: <message>", with the
    count of the others; `prefix` is the path of the validated object in its file."""
    errors = err.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"not valid JSON ({first.get('ctx', {}).get('error', first['msg'])})"
    msg = f"{field_path([*prefix, *first['loc']])}: {first['msg']}"
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return msg
