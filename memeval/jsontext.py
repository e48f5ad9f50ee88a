"""Reading a JSON value out of model text: the one lenient parser every judge and the LLM
client use (small models wrap JSON in code fences or chatter)."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def loads_lenient(text: str | None) -> Any | None:
    """The JSON value in `text`: the whole text, else a fenced block, else the outermost
    {...} span; None when none parses."""
    if not text:
        return None
    t = text.strip()
    candidates = [t]
    fenced = _FENCE.search(t)
    if fenced:
        candidates.append(fenced.group(1))
    if "{" in t and "}" in t:
        candidates.append(t[t.index("{"): t.rindex("}") + 1])
    for c in candidates:
        try:
            return json.loads(c)
        except ValueError:
            continue
    return None


def loads_object(text: str | None) -> dict[str, Any] | None:
    """Like `loads_lenient`, but only a JSON object counts."""
    obj = loads_lenient(text)
    return obj if isinstance(obj, dict) else None
