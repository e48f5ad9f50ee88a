"""Known errors of the LoCoMo answer key, from an independent audit (github dial481/locomo-audit,
CC BY-NC 4.0 like the data; facts only, see data_cards/locomo.md): 156 issues in the 1,540
category 1-4 questions, 99 of them score-corrupting (the gold answer is wrong), 57 citation-only
(the answer is right, its evidence ids are not).

Entries are matched to a data file by question text within their conversation, so they apply
to any file holding those questions (the bundled one resolves every entry: tested)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

ERRATA_FILE = "errata.json"


@dataclass(frozen=True)
class Erratum:
    conversation: str
    qa_index: int
    question: str
    category: int
    error_type: str
    score_corrupting: bool
    corrected_answer: str
    corrected_evidence: tuple[str, ...]


def load_errata() -> tuple[dict[str, Any], list[Erratum]]:
    """(provenance, entries) of the bundled errata file."""
    raw = json.loads((resources.files("memeval.tasks.locomo") / "data" / ERRATA_FILE)
                     .read_text(encoding="utf-8"))
    entries = [Erratum(conversation=e["conversation"], qa_index=int(e["qa_index"]),
                       question=e["question"], category=int(e["category"]),
                       error_type=e["error_type"], score_corrupting=bool(e["score_corrupting"]),
                       corrected_answer=e["corrected_answer"],
                       corrected_evidence=tuple(e["corrected_evidence"]))
               for e in raw["entries"]]
    return {k: v for k, v in raw.items() if k != "entries"}, entries


def resolve(errata: list[Erratum], conversations: dict[str, Any]
            ) -> tuple[dict[tuple[str, int], Erratum], list[Erratum]]:
    """(sample_id, qa index) -> erratum for the entries whose question is in `conversations`
    (by text, the recorded index breaking ties), and the entries that match nothing."""
    found: dict[tuple[str, int], Erratum] = {}
    missing = []
    for e in errata:
        conv = conversations.get(e.conversation)
        hits = [q.index for q in (conv.qa if conv else []) if q.question == e.question]
        if not hits:
            missing.append(e)
            continue
        found[(e.conversation, e.qa_index if e.qa_index in hits else hits[0])] = e
    return found, missing
