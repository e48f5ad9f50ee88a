"""memeval's own LoCoMo prompts. Long, shared context goes first so llama.cpp reuses its KV cache."""

from __future__ import annotations

import random
import re

NOT_MENTIONED = "Not mentioned in the conversation"

ANSWER_SYSTEM = (
    "You answer questions about a long conversation between {a} and {b}, using only the "
    "memories you are given. Each memory starts with the date and time it was said. "
    "Reply with a short phrase of a few words, taken from the memories where possible, "
    "not a full sentence."
)

TEMPORAL_HINT = "Use the dates of the memories to give a date (for example '7 May 2023')."


def _options(adversarial: str, sample_id: str) -> list[str]:
    opts = [adversarial, NOT_MENTIONED]
    random.Random(sample_id).shuffle(opts)
    return opts


def option_text(reply: str, adversarial: str | None, sample_id: str) -> str | None:
    """'(a)', 'b.', 'B' -> the option's text; None when the reply is not a bare letter."""
    m = re.fullmatch(r"\(?\s*([abAB])\s*\)?[.:]?", reply.strip())
    if not m or not adversarial:
        return None
    return _options(adversarial, sample_id)["ab".index(m.group(1).lower())]


def answer_messages(a: str, b: str, memories: list[str], question: str, category: int,
                    adversarial: str | None, sample_id: str) -> list[dict[str, str]]:
    body = "Memories:\n" + ("\n".join(memories) if memories else "(no memories)")
    ask = f"\n\nQuestion: {question}"
    if category == 2:
        ask += f"\n{TEMPORAL_HINT}"
    if category == 5 and adversarial:
        # As in the official QA protocol: a two-option question, order fixed per item.
        opts = _options(adversarial, sample_id)
        ask += f"\nChoose one: (a) {opts[0]} (b) {opts[1]}"
    return [{"role": "system", "content": ANSWER_SYSTEM.format(a=a, b=b)},
            {"role": "user", "content": body + ask + "\nShort answer:"}]


JUDGE_SYSTEM = (
    "You grade answers to questions about a conversation. You are given the question, the "
    "gold answer and a generated answer. Label the generated answer CORRECT if it refers to the "
    "same thing as the gold answer, even if it is longer or worded differently; for dates, "
    "accept other formats or relative expressions that point to the same date or period. "
    "Otherwise label it WRONG. Reply in JSON."
)

JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["CORRECT", "WRONG"]}},
    "required": ["label"],
}


def judge_messages(question: str, gold: str, generated: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"Question: {question}\nGold answer: {gold}\n"
                                        f"Generated answer: {generated}\n"
                                        'Reply as {"label": "CORRECT"} or {"label": "WRONG"}.'}]


# Deliberately vague wrong answers, by category: a strict judge labels them WRONG.
VAGUE = {1: "several different things", 2: "at some point in the past",
         3: "it depends on the situation", 4: "something related to that"}
