"""HaluMem judges: memeval's own rubric prompts over an LLM (LLMJudge) and a deterministic
ExactJudge. Both expose the same four async methods, each returning a `memeval.judging.Ruling`:
integrity(extracted, point), accuracy(dialogue, gold_points, memory), update(hits, point),
qa(question, response). A ruling the LLM never gave in valid JSON is kept with valid=False and
the raw text, so "(all)" metrics count it as wrong and nothing is hidden."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memeval.judging import Parsed, Ruling, ask_json, label_parser
from memeval.tasks.halumem import prompts as P
from memeval.tasks.halumem.prompts import Layout
from memeval.tasks.halumem.schema import MemoryPoint, Message, Question, contains, normalize
from memeval.tasks.halumem.schema import says_unknown

EMPTY_RULE = "rule:empty-extraction"


def _score(value: Any) -> int | None:
    """0/1/2 from an int, an integral float or a digit string (some servers quote numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip() in ("0", "1", "2"):
        value = int(value.strip())
    return value if isinstance(value, int) and value in (0, 1, 2) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_integrity(obj: dict[str, Any]) -> Parsed:
    s = _score(obj.get("score"))
    return {"score": s}, None if s is not None else f"bad score {obj.get('score')!r}"


def parse_accuracy(obj: dict[str, Any]) -> Parsed:
    """The official rule: a verdict whose is_included_in_golden_memories is missing or
    unparseable keeps its accuracy score and counts as not included (flagged, counted)."""
    s = _score(obj.get("accuracy_score"))
    if s is None:
        return {}, f"bad accuracy_score {obj.get('accuracy_score')!r}"
    inc = _flag(obj.get("is_included_in_golden_memories"))
    return {"score": s, "is_included": bool(inc), "is_included_parsed": inc is not None}, None


def empty_extraction_ruling() -> Ruling:
    """The spec's rule: no extracted memories -> integrity 0 without a judge call."""
    return Ruling(valid=True, judge=EMPTY_RULE, score=0,
                  reason="session extracted no memories; scored 0 without a judge call")


def _is_empty(extracted: Sequence[str]) -> bool:
    return not any(e.strip() for e in extracted)


class LLMJudge:
    """Rubric judge over memeval's LLM client (JSON-schema output, cached, retried)."""

    def __init__(self, client: Any, *, attempts: int = 3, max_tokens: int = 256,
                 layout: Layout = "shared_prefix", cache_scope: str | None = None,
                 retry_temperature: float = 0.3) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.client, self.attempts, self.max_tokens = client, attempts, max_tokens
        self.layout, self.cache_scope = layout, cache_scope
        self.retry_temperature = retry_temperature

    @property
    def identity(self) -> str:
        return str(self.client.identity)

    async def _ask(self, messages: list[dict[str, str]], schema: dict[str, Any],
                   parse: Any) -> Ruling:
        return await ask_json(self.client, messages, schema, parse, attempts=self.attempts,
                              max_tokens=self.max_tokens, cache_scope=self.cache_scope,
                              retry_temperature=self.retry_temperature)

    async def integrity(self, extracted: Sequence[str], point: MemoryPoint) -> Ruling:
        if _is_empty(extracted):
            return empty_extraction_ruling()
        return await self._ask(P.integrity_messages(extracted, point, self.layout),
                               P.INTEGRITY_SCHEMA, parse_integrity)

    async def accuracy(self, dialogue: Sequence[Message], gold_points: Sequence[MemoryPoint],
                       memory: str) -> Ruling:
        return await self._ask(P.accuracy_messages(dialogue, gold_points, memory, self.layout),
                               P.ACCURACY_SCHEMA, parse_accuracy)

    async def update(self, hits: Sequence[str], point: MemoryPoint) -> Ruling:
        return await self._ask(P.update_messages(hits, point), P.UPDATE_SCHEMA,
                               label_parser("label", P.UPDATE_LABELS))

    async def qa(self, question: Question, response: str) -> Ruling:
        return await self._ask(P.qa_messages(question, response), P.QA_SCHEMA,
                               label_parser("label", P.QA_LABELS))


class ExactJudge:
    """Deterministic, LLM-free judge by normalized text match. It is a sanity check for
    generated data and the pipeline (an oracle must score perfectly), not a HaluMem judge."""

    identity = "exact-v1"

    def _r(self, reason: str, **fields: Any) -> Ruling:
        return Ruling(valid=True, judge=self.identity, reason=reason,
                      label=fields.pop("label", None), score=fields.pop("score", None),
                      extra=fields)

    async def integrity(self, extracted: Sequence[str], point: MemoryPoint) -> Ruling:
        if _is_empty(extracted):
            return empty_extraction_ruling()
        hit = any(contains(e, point.memory_content) for e in extracted)
        return self._r("point contained in an extracted memory" if hit
                       else "point not contained in any extracted memory", score=2 if hit else 0)

    async def accuracy(self, dialogue: Sequence[Message], gold_points: Sequence[MemoryPoint],
                       memory: str) -> Ruling:
        # A match = the memory states a whole gold fact (equal, or containing it).
        hit = any(contains(memory, p.memory_content) for p in gold_points
                  if not p.is_interference)
        return self._r("matches a gold point" if hit else "matches no gold point",
                       score=2 if hit else 0, is_included=hit)

    async def update(self, hits: Sequence[str], point: MemoryPoint) -> Ruling:
        new = point.memory_content
        has_new = any(contains(h, new) for h in hits)
        stale = any(contains(h, old) and not contains(h, new)
                    for h in hits for old in point.original_memories if normalize(old))
        if not has_new:
            return self._r("no returned memory holds the update", label="Omission")
        if stale:
            return self._r("update present but an original is still kept", label="Other")
        return self._r("update present, originals gone", label="Correct")

    async def qa(self, question: Question, response: str) -> Ruling:
        if question.unanswerable:
            ok = says_unknown(response)
            return self._r("unanswerable: response says unknown" if ok else
                           "unanswerable: response gives a definite answer",
                           label="Correct" if ok else "Hallucination")
        if contains(response, question.answer):
            return self._r("gold answer contained in response", label="Correct")
        return self._r("gold answer not in response", label="Omission")
