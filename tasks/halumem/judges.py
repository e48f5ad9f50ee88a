"""HaluMem judges: memeval's own rubric prompts (LLMJudge) and a deterministic ExactJudge.

Both expose the same four async methods, each returning a `Verdict`:
integrity(extracted, point), accuracy(dialogue, gold_points, memory), update(hits, point),
qa(question, response). A verdict the LLM never produced in valid JSON is kept as
`valid=False` with the raw text, so "(all)" metrics count it as wrong and nothing is hidden.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from memeval.tasks.halumem.schema import (
    MemoryPoint,
    Message,
    Question,
    contains,
    normalize,
    says_unknown,
)

Kind = Literal["integrity", "accuracy", "update", "qa"]
Layout = Literal["shared_prefix", "memory_first"]
UPDATE_LABELS = ("Correct", "Hallucination", "Omission", "Other")
QA_LABELS = ("Correct", "Hallucination", "Omission")
EMPTY_RULE = "rule:empty-extraction"


class Verdict(BaseModel):
    """One judge decision; `score`/`is_included` (integrity, accuracy) or `label` (update, qa)."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    score: int | None = None
    is_included: bool | None = None
    label: str | None = None
    valid: bool
    judge: str
    raw: str | None = None
    reason: str | None = None
    attempts: int = 0
    cached: bool = False


_REASONING = {"type": "string", "maxLength": 400}
INTEGRITY_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["reasoning", "score"],
    "properties": {"reasoning": _REASONING, "score": {"type": "integer", "enum": [0, 1, 2]}}}
ACCURACY_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["reasoning", "accuracy_score", "is_included_in_golden_memories"],
    "properties": {"reasoning": _REASONING,
                   "accuracy_score": {"type": "integer", "enum": [0, 1, 2]},
                   "is_included_in_golden_memories": {"type": "boolean"}}}


def _label_schema(labels: Sequence[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["reasoning", "label"],
            "properties": {"reasoning": _REASONING,
                           "label": {"type": "string", "enum": list(labels)}}}


UPDATE_SCHEMA = _label_schema(UPDATE_LABELS)
QA_SCHEMA = _label_schema(QA_LABELS)

_JSON_TAIL = "Reply with one JSON object only, keeping \"reasoning\" to one short sentence."

INTEGRITY_SYSTEM = (
    "You grade the recall of a memory system. You receive every memory the system extracted "
    "from one conversation session, and one expected memory point that a careful note-taker "
    "would have kept. Decide how well the extracted memories, taken together, cover the "
    "expected point.\n"
    "score 2: the point is fully stated or clearly implied by the extracted memories.\n"
    "score 1: the point is only partly covered: its topic is there but a key detail is missing "
    "or slightly wrong. A hedged statement (\"may\", \"might\", \"possibly\") of a fact the "
    "point states as definite usually earns 1.\n"
    "score 0: the point is absent, or the extracted memories state something that contradicts "
    f"it.\n{_JSON_TAIL} Fields: reasoning, score.")

ACCURACY_SYSTEM = (
    "You check one memory that a memory system extracted from a conversation session. You "
    "receive the session dialogue, the reference memory points for that session, and the "
    "memory to check. Split the memory into its information points and judge each against "
    "the dialogue.\n"
    "accuracy_score 2: every information point is supported by the dialogue and none "
    "contradicts it.\n"
    "accuracy_score 1: some information points are supported, others are unsupported or "
    "imprecise, and nothing is flatly contradicted.\n"
    "accuracy_score 0: the memory is not supported by the dialogue or is contradicted by it "
    "(a hallucinated memory).\n"
    "is_included_in_golden_memories: true if and only if the subject/field of every "
    "information point of the memory also appears among the reference memory points, "
    "whether or not the values agree; false otherwise.\n"
    f"{_JSON_TAIL} Fields: reasoning, accuracy_score, is_included_in_golden_memories.")

UPDATE_SYSTEM = (
    "You check whether a memory system applied an update correctly. You receive the memories "
    "the system returned when searched for the update, the updated memory (the new truth), and "
    "the original memories it replaces. Choose one label.\n"
    "Correct: the returned memories contain all information of the updated memory, key fields "
    "(names, numbers, dates, places) are exact, and the original information is replaced or "
    "marked as outdated.\n"
    "Hallucination: a related memory is present but states the update with factual errors.\n"
    "Omission: no related memory is present, or key information of the update is missing.\n"
    "Other: the case fits none of the above (for example the new information is present but "
    f"the original is still kept as current).\n{_JSON_TAIL} Fields: reasoning, label.")

QA_SYSTEM = (
    "You grade an answer produced from a memory system. You receive the question, the "
    "reference answer, the evidence memories behind the reference answer, and the response. "
    "Choose one label, checking in this order.\n"
    "Hallucination: the response states anything fabricated, or anything that contradicts the "
    "reference answer or the evidence. This takes priority over the other labels.\n"
    "Omission: the response fabricates nothing but misses information the reference answer "
    "needs (including replying that it does not know).\n"
    "Correct: the response conveys the reference answer; wording may differ.\n"
    "If the reference answer says the information is unknown or was never provided, a "
    "response that gives a definite answer is a Hallucination, and a response that says it "
    f"is unknown is Correct.\n{_JSON_TAIL} Fields: reasoning, label.")


def _lines(items: Sequence[str]) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1)) or "(none)"


def format_dialogue(dialogue: Sequence[Message]) -> str:
    return "\n".join(f"[{m.timestamp or '-'}] {m.role}: {m.content}" for m in dialogue)


def integrity_messages(extracted: Sequence[str], point: MemoryPoint) -> list[dict[str, str]]:
    # Extracted memories first: all points of a session share this prefix (KV-cache reuse).
    user = (f"Extracted memories:\n{_lines(extracted)}\n\n"
            f"Expected memory point:\n{point.memory_content}")
    return [{"role": "system", "content": INTEGRITY_SYSTEM}, {"role": "user", "content": user}]


def accuracy_messages(dialogue: Sequence[Message], gold_points: Sequence[MemoryPoint],
                      memory: str, layout: Layout = "shared_prefix") -> list[dict[str, str]]:
    gold = _lines([p.memory_content for p in gold_points if not p.is_interference])
    context = f"Session dialogue:\n{format_dialogue(dialogue)}\n\nReference memory points:\n{gold}"
    check = f"Memory to check:\n{memory}"
    if layout == "shared_prefix":  # every extracted memory of a session shares the long prefix
        user = f"{context}\n\n{check}"
    elif layout == "memory_first":
        user = f"{check}\n\n{context}"
    else:
        raise ValueError(f"unknown layout {layout!r} (valid: shared_prefix, memory_first)")
    return [{"role": "system", "content": ACCURACY_SYSTEM}, {"role": "user", "content": user}]


def update_messages(hits: Sequence[str], point: MemoryPoint) -> list[dict[str, str]]:
    user = (f"Returned memories:\n{_lines(hits)}\n\nUpdated memory:\n{point.memory_content}\n\n"
            f"Original memories:\n{_lines(point.original_memories)}")
    return [{"role": "system", "content": UPDATE_SYSTEM}, {"role": "user", "content": user}]


def qa_messages(question: Question, response: str) -> list[dict[str, str]]:
    evidence = _lines([e.memory_content for e in question.evidence])
    user = (f"Question:\n{question.question}\n\nReference answer:\n{question.answer}\n\n"
            f"Evidence memories:\n{evidence}\n\nResponse:\n{response}")
    return [{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": user}]


def _loads(text: str) -> dict[str, Any] | None:
    """Parse a JSON object from model text, tolerating code fences and surrounding chatter."""
    t = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", t, re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(t)
    if "{" in t and "}" in t:
        candidates.append(t[t.index("{"): t.rindex("}") + 1])
    for c in candidates:
        try:
            obj = json.loads(c)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


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


def _label(value: Any, allowed: Sequence[str]) -> str | None:
    if not isinstance(value, str):
        return None
    return {a.lower(): a for a in allowed}.get(value.strip().lower())


Parsed = tuple[dict[str, Any], str | None]  # (verdict fields, problem or None)


def _parse_integrity(obj: dict[str, Any]) -> Parsed:
    s = _score(obj.get("score"))
    return {"score": s}, None if s is not None else f"bad score {obj.get('score')!r}"


def _parse_accuracy(obj: dict[str, Any]) -> Parsed:
    s = _score(obj.get("accuracy_score"))
    inc = _flag(obj.get("is_included_in_golden_memories"))
    if s is None:
        return {}, f"bad accuracy_score {obj.get('accuracy_score')!r}"
    if inc is None:
        return {}, "bad is_included_in_golden_memories"
    return {"score": s, "is_included": inc}, None


def _parse_label(allowed: Sequence[str]) -> Callable[[dict[str, Any]], Parsed]:
    def parse(obj: dict[str, Any]) -> Parsed:
        lab = _label(obj.get("label"), allowed)
        return {"label": lab}, None if lab else f"bad label {obj.get('label')!r}"

    return parse


def empty_extraction_verdict() -> Verdict:
    """The spec's rule: no extracted memories -> integrity 0 without a judge call."""
    return Verdict(kind="integrity", score=0, valid=True, judge=EMPTY_RULE,
                   reason="session extracted no memories; scored 0 without a judge call")


def _is_empty(extracted: Sequence[str]) -> bool:
    return not any(e.strip() for e in extracted)


def _refusal_types() -> tuple[type[BaseException], ...]:
    """Errors meaning "the server refused this request" (e.g. prompt over the window). They
    become an invalid verdict at once; outages (EndpointDown) propagate and stop the run."""
    try:
        from memeval.llm import LLMError
    except ImportError:  # the client's HTTP stack is optional for data-only use
        return ()
    return (LLMError,)


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

    async def _ask(self, kind: Kind, messages: list[dict[str, str]], schema: dict[str, Any],
                   parse: Callable[[dict[str, Any]], Parsed]) -> Verdict:
        raw, problem = "", ""
        refused = _refusal_types()
        for i in range(self.attempts):
            try:
                # attempt=i changes the cache key so a cached bad answer is not replayed.
                res = await self.client.chat(
                    messages, caller="judge", schema=schema, max_tokens=self.max_tokens,
                    temperature=0.0 if i == 0 else self.retry_temperature,
                    cache_scope=self.cache_scope, attempt=i)
            except refused as e:  # retrying the same request would be refused again
                return Verdict(kind=kind, valid=False, judge=self.identity,
                               reason=f"request refused: {e}", attempts=i + 1)
            raw = res.text or ""
            obj = res.json if isinstance(res.json, dict) else _loads(raw)
            if obj is None:
                problem = "unparseable JSON"
                continue
            fields, problem_or_none = parse(obj)
            if problem_or_none is None:
                reason = obj.get("reasoning")
                return Verdict(kind=kind, valid=True, judge=self.identity, raw=raw,
                               reason=reason if isinstance(reason, str) else None,
                               attempts=i + 1, cached=bool(res.cached), **fields)
            problem = problem_or_none
        return Verdict(kind=kind, valid=False, judge=self.identity, raw=raw,
                       reason=f"no valid verdict after {self.attempts} attempts: {problem}",
                       attempts=self.attempts)

    async def integrity(self, extracted: Sequence[str], point: MemoryPoint) -> Verdict:
        if _is_empty(extracted):
            return empty_extraction_verdict()
        return await self._ask("integrity", integrity_messages(extracted, point),
                               INTEGRITY_SCHEMA, _parse_integrity)

    async def accuracy(self, dialogue: Sequence[Message], gold_points: Sequence[MemoryPoint],
                       memory: str) -> Verdict:
        return await self._ask("accuracy",
                               accuracy_messages(dialogue, gold_points, memory, self.layout),
                               ACCURACY_SCHEMA, _parse_accuracy)

    async def update(self, hits: Sequence[str], point: MemoryPoint) -> Verdict:
        return await self._ask("update", update_messages(hits, point), UPDATE_SCHEMA,
                               _parse_label(UPDATE_LABELS))

    async def qa(self, question: Question, response: str) -> Verdict:
        return await self._ask("qa", qa_messages(question, response), QA_SCHEMA,
                               _parse_label(QA_LABELS))


class ExactJudge:
    """Deterministic, LLM-free judge by normalized text match. It is a sanity check for
    generated data and the pipeline (an oracle must score perfectly), not a HaluMem judge."""

    identity = "exact-v1"

    def _v(self, kind: Kind, reason: str, **fields: Any) -> Verdict:
        return Verdict(kind=kind, valid=True, judge=self.identity, reason=reason, **fields)

    async def integrity(self, extracted: Sequence[str], point: MemoryPoint) -> Verdict:
        if _is_empty(extracted):
            return empty_extraction_verdict()
        hit = any(contains(e, point.memory_content) for e in extracted)
        return self._v("integrity", "point contained in an extracted memory" if hit
                       else "point not contained in any extracted memory", score=2 if hit else 0)

    async def accuracy(self, dialogue: Sequence[Message], gold_points: Sequence[MemoryPoint],
                       memory: str) -> Verdict:
        # A match = the memory states a whole gold fact (equal, or containing it).
        hit = any(contains(memory, p.memory_content) for p in gold_points
                  if not p.is_interference)
        return self._v("accuracy", "matches a gold point" if hit else "matches no gold point",
                       score=2 if hit else 0, is_included=hit)

    async def update(self, hits: Sequence[str], point: MemoryPoint) -> Verdict:
        new = point.memory_content
        has_new = any(contains(h, new) for h in hits)
        stale = any(contains(h, old) and not contains(h, new)
                    for h in hits for old in point.original_memories if normalize(old))
        if not has_new:
            return self._v("update", "no returned memory holds the update", label="Omission")
        if stale:
            return self._v("update", "update present but an original is still kept", label="Other")
        return self._v("update", "update present, originals gone", label="Correct")

    async def qa(self, question: Question, response: str) -> Verdict:
        if question.unanswerable:
            ok = says_unknown(response)
            return self._v("qa", "unanswerable: response says unknown" if ok else
                           "unanswerable: response gives a definite answer",
                           label="Correct" if ok else "Hallucination")
        if contains(response, question.answer):
            return self._v("qa", "gold answer contained in response", label="Correct")
        return self._v("qa", "gold answer not in response", label="Omission")
