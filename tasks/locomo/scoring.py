"""LoCoMo per-question scoring, reproducing the official QA scorer.

Reference: snap-research/locomo ``task_eval/evaluation.py``,
``eval_question_answering`` (same rules at commit 92286325 on the ``code`` branch and at
0e229672 of the later main branch, which only adds an ``adversarial_answer`` fallback
for the gold string; category 5 never reads the gold anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from memeval.metrics.text import f1_multi, token_f1

__all__ = [
    "CATEGORY_NAMES",
    "MEM0_CATEGORY_NAMES",
    "ABSTENTION_PHRASES",
    "category_name",
    "score_answer",
]

# Numbering used by the data file and the official code (its CATEGORY_MAPPING).
CATEGORY_NAMES: Mapping[int, str] = MappingProxyType(
    {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
)
# Labels the Mem0 paper attaches to the same raw numbers (1 and 3, 4 differ).
MEM0_CATEGORY_NAMES: Mapping[int, str] = MappingProxyType(
    {1: "single-hop", 2: "temporal", 3: "multi-hop", 4: "open-domain", 5: "adversarial"}
)
_CONVENTIONS: Mapping[str, Mapping[int, str]] = MappingProxyType(
    {"data": CATEGORY_NAMES, "mem0": MEM0_CATEGORY_NAMES}
)

# Category 5 is right iff the answer abstains with one of these (checked on the
# lowercased prediction, substring match, so "Not mentioned." and "(b) not mentioned
# in the conversation" both count).
ABSTENTION_PHRASES: tuple[str, ...] = ("no information available", "not mentioned")


def category_name(cat: int, convention: str = "data") -> str:
    """Name of a raw LoCoMo category number under ``convention`` ("data" or "mem0")."""
    names = _CONVENTIONS.get(convention)
    if names is None:
        raise ValueError(
            f"unknown category convention {convention!r}; valid: {', '.join(sorted(_CONVENTIONS))}"
        )
    if cat not in names:
        raise ValueError(f"unknown LoCoMo category {cat!r}; valid: 1-5")
    return names[cat]


def score_answer(prediction: str, answer: str | int | None, category: int) -> float:
    """Official per-question LoCoMo score in [0, 1].

    - 5 (adversarial): 1.0 iff the lowercased prediction contains an
      ``ABSTENTION_PHRASES`` entry; ``answer`` is ignored (usually absent: None).
    - 1 (multi-hop): ``f1_multi`` over comma-separated parts.
    - 3 (open-domain): gold is ``str(answer)`` cut at its first ';', stripped, then
      plain ``token_f1``.
    - 2, 4: plain ``token_f1``.
    Int answers are compared as ``str(answer)``, as the official code does.
    """
    if not isinstance(prediction, str):
        raise TypeError(f"prediction must be str, got {type(prediction).__name__}")
    if category == 5:
        lowered = prediction.lower()
        return 1.0 if any(p in lowered for p in ABSTENTION_PHRASES) else 0.0
    if category not in (1, 2, 3, 4):
        raise ValueError(f"unknown LoCoMo category {category!r}; valid: 1-5")
    if answer is None:
        raise ValueError(f"category {category} needs a gold answer, got None")
    gold = str(answer)
    if category == 1:
        return f1_multi(prediction, gold)
    if category == 3:
        gold = gold.split(";")[0].strip()
    return token_f1(prediction, gold)
