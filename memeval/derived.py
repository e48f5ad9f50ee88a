"""Item-level views of pack metrics that are means over items, so `compare` and `gov` can pair
them on sample_id. HaluMem stores one score per judged record (integrity 0-2, accuracy 0-2,
update/QA labels); its headline rates (halumem.md) are means of per-record indicators, rebuilt
here with the pack's own rules. Ratios of different item sets (extraction F1, weighted recall,
target precision) are not item means and are not derived."""

from __future__ import annotations

from memeval.records import Score

HALUMEM_TASKS = ("halumem", "halumem-synth")
QA_LABELS = {"qa_correct": "Correct", "qa_hallucination": "Hallucination",
             "qa_omission": "Omission"}
UPDATE_LABELS = {"update_correct": "Correct", "update_hallucination": "Hallucination",
                 "update_omission": "Omission", "update_other": "Other"}
# Extracted memories differ per system, so their sample_ids do not match across runs: only the
# candidate's own CI (a threshold) is meaningful for these, never a paired difference.
UNPAIRABLE = frozenset({"accuracy", "memory_accuracy"})


def _as(s: Score, metric: str, value: float | None) -> Score:
    return s.model_copy(update={"metric": metric, "value": value})


def halumem_items(by: dict[str, dict[str, Score]]) -> dict[str, dict[str, Score]]:
    """qa_*/update_* (label indicators; an invalid verdict stays None), memory_recall (score 2
    on non-interference points), fmr (score 0 on interference points), memory_accuracy
    (0.5 * score)."""
    out: dict[str, dict[str, Score]] = {}

    def put(metric: str, s: Score, value: float | None) -> None:
        out.setdefault(metric, {})[s.sample_id] = _as(s, metric, value)

    for raw, labels in (("qa", QA_LABELS), ("update", UPDATE_LABELS)):
        for s in by.get(raw, {}).values():
            lab = (s.detail.get("record") or {}).get("label")
            valid = lab in labels.values()
            for metric, want in labels.items():
                put(metric, s, float(lab == want) if valid else None)
    for s in by.get("integrity", {}).values():
        rec = s.detail.get("record") or {}
        score = rec.get("score")
        if rec.get("is_interference"):
            put("fmr", s, None if score is None else float(score == 0))
        else:
            put("memory_recall", s, None if score is None else float(score == 2))
    for s in by.get("accuracy", {}).values():
        score = (s.detail.get("record") or {}).get("score")
        put("memory_accuracy", s, None if score is None else 0.5 * score)
    return out


def add_derived(task: str, by: dict[str, dict[str, Score]]) -> None:
    """Add the derived metrics to a run's metric -> sample_id -> Score map (in place)."""
    if task in HALUMEM_TASKS:
        for metric, items in halumem_items(by).items():
            by.setdefault(metric, items)
