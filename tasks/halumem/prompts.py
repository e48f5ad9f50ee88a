"""HaluMem judge prompts: memeval's own rubric texts implementing the paper's four judges
(spec: halumem.md), their JSON schemas, and the message builders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from memeval.tasks.halumem.schema import MemoryPoint, Message, Question

Layout = Literal["shared_prefix", "memory_first"]
UPDATE_LABELS = ("Correct", "Hallucination", "Omission", "Other")
QA_LABELS = ("Correct", "Hallucination", "Omission")

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


def integrity_messages(extracted: Sequence[str], point: MemoryPoint,
                       layout: Layout = "shared_prefix") -> list[dict[str, str]]:
    # shared_prefix: extracted memories first, so all points of a session share this prefix
    # (llama.cpp/vLLM reuse its KV cache); memory_first puts the varying point first.
    memories = f"Extracted memories:\n{_lines(extracted)}"
    expected = f"Expected memory point:\n{point.memory_content}"
    if layout == "shared_prefix":
        user = f"{memories}\n\n{expected}"
    elif layout == "memory_first":
        user = f"{expected}\n\n{memories}"
    else:
        raise ValueError(f"unknown layout {layout!r} (valid: shared_prefix, memory_first)")
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
