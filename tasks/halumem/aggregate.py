"""HaluMem aggregates (cluster = user): the declared ratio metrics through the engine's
aggregation, extraction F1 (custom: a function of two ratios over different item sets,
bootstrapped jointly), and the pack's own lines: the empty-extraction effect and the times."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memeval.aggregate import summarize_metrics
from memeval.contracts import Aggregate, MetricEntry, MetricSpec
from memeval.records import Prediction, Score
from memeval.tasks.halumem.metrics import extraction_f1_block, verdict_counts


def _rate(rows: Sequence[Score], variant: str) -> float | None:
    vals = [0.0 if s.value is None else s.value for s in rows
            if variant == "all" or s.value is not None]
    return sum(vals) / len(vals) if vals else None


def empty_extraction_effect(scores: Sequence[Score]) -> dict[str, Any]:
    """How much of FMR comes from sessions that extracted nothing: the spec scores their points
    0 without a judge call, so each distractor there counts as resisted for free."""
    empty = {s.prediction_id for s in scores if s.metric in ("memory_recall", "fmr")
             and s.strata.get("extraction") == "empty"}
    fmr = [s for s in scores if s.metric == "fmr"]
    kept = [s for s in fmr if s.strata.get("extraction") != "empty"]
    out: dict[str, Any] = {"empty_sessions": len(empty),
                           "interference_in_empty_sessions": len(fmr) - len(kept)}
    for v in ("all", "valid"):
        out[f"fmr({v})"] = _rate(fmr, v)
        out[f"fmr_excluding_empty_sessions({v})"] = _rate(kept, v)
    return out


def times(predictions: Sequence[Prediction]) -> dict[str, Any]:
    add = sum(p.meta.get("add_s", 0.0) for p in predictions)
    qa = [q for p in predictions for q in p.meta.get("qa", [])]
    return {"add_minutes": add / 60, "retrieval_minutes": sum(q["search_s"] for q in qa) / 60,
            "update_search_minutes": sum(p.meta.get("update_search_s", 0.0)
                                         for p in predictions) / 60,
            "answer_minutes": sum(q["answer_s"] for q in qa) / 60,
            "sessions": len(predictions), "questions": len(qa),
            "extracted_memories": sum(len(p.meta.get("extracted", [])) for p in predictions)}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def aggregate(specs: Sequence[MetricSpec], scores: Sequence[Score],
              predictions: Sequence[Prediction], seed: int = 0) -> Aggregate:
    metrics = summarize_metrics(specs, scores, seed)
    f1 = extraction_f1_block(scores, seed)
    f1_spec = next((s for s in specs if s.name == "extraction_f1"), None)
    if f1 is not None and f1_spec is not None:
        metrics["extraction_f1"] = MetricEntry(spec=f1_spec, overall=f1)
    ee, t, v = empty_extraction_effect(scores), times(predictions), verdict_counts(scores)
    deleted = sum(e == "DELETE" for p in predictions for e in p.meta.get("events", []))
    policy = next((p.meta["deleted_memories"] for p in predictions
                   if "deleted_memories" in p.meta), "count")
    notes = [f"empty extraction: {ee['empty_sessions']} session(s) extracted nothing; "
             f"{ee['interference_in_empty_sessions']} distractor(s) counted as resisted; "
             f"FMR(all) {_pct(ee['fmr(all)'])} vs {_pct(ee['fmr_excluding_empty_sessions(all)'])}"
             " without those sessions",
             f"time: add {t['add_minutes']:.2f} min, retrieval {t['retrieval_minutes']:.2f} min, "
             f"answer {t['answer_minutes']:.2f} min; {t['extracted_memories']} memories extracted",
             f"verdicts: integrity {v['integrity']} + interference {v['interference']} "
             f"({v['integrity_invalid']} invalid), accuracy {v['accuracy']} "
             f"({v['accuracy_invalid']} invalid; {v['accuracy_included_unparsed']} without a "
             "parseable is_included, counted as not included as the official scorer does), "
             f"update {v['update']} ({v['update_invalid']} invalid), qa {v['qa']} "
             f"({v['qa_invalid']} invalid)",
             f"memories the system reported as deleted: {deleted}, "
             + ("counted as extracted (the official harness counts everything add returns; "
                "deleted_memories=exclude drops them)" if policy == "count" else
                "not counted as extracted (deleted_memories=exclude; the official harness "
                "counts them)")]
    return Aggregate(metrics=metrics, notes=notes,
                     details={"verdicts": v, "empty_extraction": ee, "times": t,
                              "deleted_memories": {"reported": deleted, "policy": policy}})
