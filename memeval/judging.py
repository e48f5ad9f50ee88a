"""The one judge loop every pack uses: ask an LLM for a JSON verdict with retries, parse it
leniently, and return an invalid ruling (never an exception, never a guess) when no attempt
gives a valid one. Outages (EndpointDown) propagate: the run stops and resumes later."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memeval.jsontext import loads_object
from memeval.llm import LLMError
from memeval.records import Verdict

# A parser maps the model's JSON object to (label, score, extra) or explains what is wrong.
Parsed = tuple[dict[str, Any], str | None]
Parser = Callable[[dict[str, Any]], Parsed]


@dataclass(frozen=True)
class Ruling:
    """A judge's decision before it is attached to an item. `extra`: further verdict fields
    (e.g. HaluMem's is_included)."""

    valid: bool
    judge: str
    label: str | None = None
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    raw: str | None = None
    attempts: int = 1
    cached: bool = False

    def verdict(self, prediction_id: str, item: str, kind: str, *, repeat: int = 0,
                about: dict[str, Any] | None = None) -> Verdict:
        """The persisted record; `about` holds what the item is (the pack's own record)."""
        return Verdict(prediction_id=prediction_id, item=item, kind=kind, repeat=repeat,
                       judge=self.judge, valid=self.valid, label=self.label, score=self.score,
                       fields={**self.extra, **(about or {})}, reason=self.reason, raw=self.raw,
                       attempts=self.attempts, cached=self.cached)


def label_parser(key: str, allowed: Sequence[str]) -> Parser:
    """Accept obj[key] when it is one of `allowed` (case-insensitive), as spelled there."""
    canon = {a.lower(): a for a in allowed}

    def parse(obj: dict[str, Any]) -> Parsed:
        value = obj.get(key)
        lab = canon.get(value.strip().lower()) if isinstance(value, str) else None
        return ({"label": lab}, None) if lab else ({}, f"bad {key} {value!r}")

    return parse


async def ask_json(llm: Any, messages: list[dict[str, str]], schema: dict[str, Any],
                   parse: Parser, *, attempts: int = 3, max_tokens: int = 256,
                   retry_temperature: float = 0.3, cache_scope: str | None = None,
                   caller: str = "judge") -> Ruling:
    """Ask up to `attempts` times (temperature 0 first, then `retry_temperature`; each attempt
    has its own cache key, so a cached bad answer is not replayed). A request the server
    refuses (e.g. over the window) is an invalid ruling at once: retrying would be refused too."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    identity = str(llm.identity)
    raw, problem = "", "no attempt"
    for i in range(attempts):
        try:
            res = await llm.chat(messages, caller=caller, schema=schema, max_tokens=max_tokens,
                                 temperature=0.0 if i == 0 else retry_temperature,
                                 cache_scope=cache_scope, attempt=i)
        except LLMError as e:
            return Ruling(valid=False, judge=identity, reason=f"request refused: {e}",
                          attempts=i + 1)
        raw = res.text or ""
        obj = res.json if isinstance(res.json, dict) else loads_object(raw)
        if obj is None:
            problem = "unparseable JSON"
            continue
        fields, problem_or_none = parse(obj)
        if problem_or_none is None:
            reason = obj.get("reasoning")
            return Ruling(valid=True, judge=identity, label=fields.pop("label", None),
                          score=fields.pop("score", None), extra=fields, raw=raw,
                          reason=reason if isinstance(reason, str) else None,
                          attempts=i + 1, cached=bool(res.cached))
        problem = problem_or_none
    return Ruling(valid=False, judge=identity, raw=raw, attempts=attempts,
                  reason=f"no valid verdict after {attempts} attempts: {problem}")
