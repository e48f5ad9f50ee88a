"""HaluMem metrics from judge-verdict records: pure functions, point estimates plus, per metric,
the per-record numerator/denominator arrays and cluster ids (cluster = user uuid) that the
engine hands to `memeval.stats` for clustered CIs.

Conventions (spec "Metrics"): s = 0.5 * score; "(all)" keeps invalid verdicts in the
denominator as wrong, "(valid)" drops them; a zero denominator gives None, never 0 or an error.
Typewise accuracy EXCLUDES interference points (the upstream code forgets to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from memeval.tasks.halumem.judges import EMPTY_RULE, QA_LABELS, UPDATE_LABELS, Verdict
from memeval.tasks.halumem.schema import DIFFICULTIES, MEMORY_TYPES, QUESTION_TYPES, MemoryPoint

Variant = Literal["all", "valid"]
VARIANTS: tuple[Variant, ...] = ("all", "valid")


class _Rec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntegrityRecord(_Rec):
    user: str
    session: int
    point_index: int
    memory_type: str
    is_interference: bool
    importance: float
    score: int | None  # None = invalid verdict
    empty_extraction: bool = False  # scored 0 by the empty-extraction rule, no judge call

    @classmethod
    def of(cls, user: str, session: int, point: MemoryPoint, v: Verdict) -> IntegrityRecord:
        return cls(user=user, session=session, point_index=point.index,
                   memory_type=point.memory_type, is_interference=point.is_interference,
                   importance=point.importance, score=v.score if v.valid else None,
                   empty_extraction=v.judge == EMPTY_RULE)


class AccuracyRecord(_Rec):
    user: str
    session: int
    score: int | None
    is_included: bool | None

    @classmethod
    def of(cls, user: str, session: int, v: Verdict) -> AccuracyRecord:
        return cls(user=user, session=session, score=v.score if v.valid else None,
                   is_included=v.is_included if v.valid else None)


class UpdateRecord(_Rec):
    user: str
    session: int
    point_index: int
    memory_type: str
    label: str | None

    @classmethod
    def of(cls, user: str, session: int, point: MemoryPoint, v: Verdict) -> UpdateRecord:
        return cls(user=user, session=session, point_index=point.index,
                   memory_type=point.memory_type, label=v.label if v.valid else None)


class QARecord(_Rec):
    user: str
    session: int
    question_type: str
    difficulty: str
    label: str | None


class Ratio(BaseModel):
    """sum(num) / sum(den) with the per-record arrays behind it (one entry per record)."""

    value: float | None
    num: list[float]
    den: list[float]
    clusters: list[str]

    @property
    def n(self) -> int:
        return len(self.den)


class HaluMemMetrics(BaseModel):
    values: dict[str, float | None]  # every metric's point estimate, F1 included
    ratios: dict[str, Ratio]  # the ratio metrics with their arrays (F1 is derived, not here)
    counts: dict[str, int]
    empty_extraction: dict[str, Any]


def _ratio(rows: Iterable[tuple[float, float, str]]) -> Ratio:
    num, den, clusters = [], [], []
    for n, d, c in rows:
        num.append(float(n))
        den.append(float(d))
        clusters.append(c)
    total = sum(den)
    return Ratio(value=sum(num) / total if total > 0 else None, num=num, den=den,
                 clusters=clusters)


def _s(score: int | None) -> float:
    return 0.0 if score is None else 0.5 * score


def _keep(valid: bool, variant: Variant) -> bool:
    return valid or variant == "all"


# -- extraction ---------------------------------------------------------------------------------
def recall(records: Sequence[IntegrityRecord], variant: Variant = "all") -> Ratio:
    """#score-2 / #records over non-interference integrity records (partial credit = 0)."""
    return _ratio((float(r.score == 2), 1.0, r.user) for r in records
                  if not r.is_interference and _keep(r.score is not None, variant))


def weighted_recall(records: Sequence[IntegrityRecord], variant: Variant = "all") -> Ratio:
    """sum(importance * s) / sum(importance) over non-interference integrity records."""
    return _ratio((r.importance * _s(r.score), r.importance, r.user) for r in records
                  if not r.is_interference and _keep(r.score is not None, variant))


def fmr(records: Sequence[IntegrityRecord], variant: Variant = "all") -> Ratio:
    """False-memory resistance: interference records scored 0 / interference records."""
    return _ratio((float(r.score == 0), 1.0, r.user) for r in records
                  if r.is_interference and _keep(r.score is not None, variant))


def memory_accuracy(records: Sequence[AccuracyRecord], variant: Variant = "all") -> Ratio:
    """sum(s) / N extracted memories."""
    return _ratio((_s(r.score), 1.0, r.user) for r in records
                  if _keep(r.score is not None, variant))


def target_precision(records: Sequence[AccuracyRecord], variant: Variant = "all") -> Ratio:
    """sum(s) / count over extracted memories judged is_included = true. An invalid verdict
    carries no is_included, so it falls outside both variants (as upstream)."""
    return _ratio((_s(r.score), 1.0, r.user) for r in records
                  if r.is_included is True and _keep(r.score is not None, variant))


def extraction_f1(precision: float | None, recall_: float | None) -> float | None:
    """2PR/(P+R); 0 when P+R = 0; None when either side is undefined."""
    if precision is None or recall_ is None:
        return None
    total = precision + recall_
    return 0.0 if total == 0 else 2 * precision * recall_ / total


# -- update and QA ------------------------------------------------------------------------------
def _valid_label(label: str | None, allowed: Sequence[str]) -> bool:
    return label in allowed


def update_shares(records: Sequence[UpdateRecord], variant: Variant = "all") -> dict[str, Ratio]:
    """Correct / Hallucination / Omission / Other shares of the update records."""
    kept = [r for r in records if _keep(_valid_label(r.label, UPDATE_LABELS), variant)]
    return {lab: _ratio((float(r.label == lab), 1.0, r.user) for r in kept)
            for lab in UPDATE_LABELS}


def qa_shares(records: Sequence[QARecord], variant: Variant = "all") -> dict[str, Ratio]:
    """Correct / Hallucination / Omission shares of the questions."""
    kept = [r for r in records if _keep(_valid_label(r.label, QA_LABELS), variant)]
    return {lab: _ratio((float(r.label == lab), 1.0, r.user) for r in kept) for lab in QA_LABELS}


def typewise_accuracy(integrity: Sequence[IntegrityRecord], update: Sequence[UpdateRecord],
                      variant: Variant = "all") -> dict[str, Ratio]:
    """Per memory_type: (#integrity score 2 + #update Correct) / (#integrity + #update),
    interference points excluded."""
    types = list(MEMORY_TYPES) + sorted({r.memory_type for r in [*integrity, *update]}
                                        - set(MEMORY_TYPES))
    out = {}
    for t in types:
        rows = [(float(r.score == 2), 1.0, r.user) for r in integrity
                if r.memory_type == t and not r.is_interference
                and _keep(r.score is not None, variant)]
        rows += [(float(r.label == "Correct"), 1.0, r.user) for r in update
                 if r.memory_type == t and _keep(_valid_label(r.label, UPDATE_LABELS), variant)]
        out[t] = _ratio(rows)
    return out


# -- routing and the empty-extraction rule -------------------------------------------------------
def route_points(points: Sequence[MemoryPoint], update_hits: Mapping[int, Sequence[Any]]
                 ) -> tuple[list[MemoryPoint], list[MemoryPoint]]:
    """Split a session's gold points into (to_integrity, to_update).

    `update_hits` maps point.index -> what the update search returned. A point goes to the
    update judge iff is_update == "True" AND its search returned something; everything else
    (interference points, update points whose search was empty or never ran) goes to integrity.
    """
    to_integrity, to_update = [], []
    for p in points:
        (to_update if p.updated and update_hits.get(p.index) else to_integrity).append(p)
    return to_integrity, to_update


def is_empty_extraction(extracted: Sequence[str]) -> bool:
    """No extracted memories (blank strings count as none, as upstream)."""
    return not any(e.strip() for e in extracted)


def empty_extraction_records(user: str, session: int, points: Sequence[MemoryPoint]
                             ) -> list[IntegrityRecord]:
    """Integrity score 0 without a judge call for every integrity-routed point of a session
    whose extraction was empty. Its interference points therefore count as resisted in FMR."""
    return [IntegrityRecord(user=user, session=session, point_index=p.index,
                            memory_type=p.memory_type, is_interference=p.is_interference,
                            importance=p.importance, score=0, empty_extraction=True)
            for p in points]


def empty_extraction_effect(records: Sequence[IntegrityRecord]) -> dict[str, Any]:
    """How much of FMR comes from sessions that extracted nothing (free 'resistance')."""
    empty_sessions = {(r.user, r.session) for r in records if r.empty_extraction}
    kept = [r for r in records if not r.empty_extraction]
    out: dict[str, Any] = {
        "empty_sessions": len(empty_sessions),
        "interference_in_empty_sessions": sum(r.is_interference and r.empty_extraction
                                              for r in records),
    }
    for v in VARIANTS:
        out[f"fmr({v})"] = fmr(records, v).value
        out[f"fmr_excluding_empty_sessions({v})"] = fmr(kept, v).value
    return out


# -- everything ---------------------------------------------------------------------------------
def compute(integrity: Sequence[IntegrityRecord], accuracy: Sequence[AccuracyRecord],
            update: Sequence[UpdateRecord], qa: Sequence[QARecord]) -> HaluMemMetrics:
    """Every metric of the spec in both variants, keyed "<name>(<variant>)[/<stratum>=<v>]"."""
    ratios: dict[str, Ratio] = {}
    for v in VARIANTS:
        ratios[f"recall({v})"] = recall(integrity, v)
        ratios[f"weighted_recall({v})"] = weighted_recall(integrity, v)
        ratios[f"memory_accuracy({v})"] = memory_accuracy(accuracy, v)
        ratios[f"target_precision({v})"] = target_precision(accuracy, v)
        ratios[f"fmr({v})"] = fmr(integrity, v)
        for lab, r in update_shares(update, v).items():
            ratios[f"update_{lab.lower()}({v})"] = r
        for lab, r in qa_shares(qa, v).items():
            ratios[f"qa_{lab.lower()}({v})"] = r
        for field, known in (("question_type", QUESTION_TYPES), ("difficulty", DIFFICULTIES)):
            seen = list(known) + sorted({getattr(q, field) for q in qa} - set(known))
            for val in seen:
                sub = [q for q in qa if getattr(q, field) == val]
                for lab, r in qa_shares(sub, v).items():
                    ratios[f"qa_{lab.lower()}({v})/{field}={val}"] = r
        for t, r in typewise_accuracy(integrity, update, v).items():
            ratios[f"typewise_accuracy({v})/memory_type={t}"] = r
    values: dict[str, float | None] = {k: r.value for k, r in ratios.items()}
    values["extraction_f1"] = extraction_f1(values["target_precision(all)"],
                                            values["recall(all)"])
    counts = {
        "integrity": sum(not r.is_interference for r in integrity),
        "interference": sum(r.is_interference for r in integrity),
        "integrity_invalid": sum(r.score is None for r in integrity),
        "accuracy": len(accuracy),
        "accuracy_invalid": sum(r.score is None for r in accuracy),
        "update": len(update),
        "update_invalid": sum(not _valid_label(r.label, UPDATE_LABELS) for r in update),
        "qa": len(qa),
        "qa_invalid": sum(not _valid_label(r.label, QA_LABELS) for r in qa),
    }
    return HaluMemMetrics(values=values, ratios=ratios, counts=counts,
                          empty_extraction=empty_extraction_effect(integrity))
