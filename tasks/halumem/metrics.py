"""HaluMem metrics (spec "Metrics"; s = 0.5 * score), defined as item-level scores of judge
records, so the engine's aggregation gives every rate with its clustered CI (cluster = user).

Each verdict record becomes the items of the metrics it enters, e.g. a non-interference
integrity record is one item of memory_recall (score == 2), of weighted_recall (s, weighted by
importance) and of typewise_accuracy. An invalid verdict is an item with value None: "(all)"
counts it as wrong, "(valid)" drops it. Typewise accuracy EXCLUDES interference points (the
upstream code forgets to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from memeval.contracts import Block, Estimate
from memeval.judging import Ruling
from memeval.records import Score
from memeval.stats import cluster_bootstrap
from memeval.tasks.halumem.judges import EMPTY_RULE
from memeval.tasks.halumem.prompts import QA_LABELS, UPDATE_LABELS
from memeval.tasks.halumem.schema import MemoryPoint


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
    def of(cls, user: str, session: int, point: MemoryPoint, r: Ruling) -> IntegrityRecord:
        return cls(user=user, session=session, point_index=point.index,
                   memory_type=point.memory_type, is_interference=point.is_interference,
                   importance=point.importance, score=_int(r.score) if r.valid else None,
                   empty_extraction=r.judge == EMPTY_RULE)


class AccuracyRecord(_Rec):
    user: str
    session: int
    score: int | None
    is_included: bool | None
    # False: the judge gave no parseable is_included; the official scorer then counts the
    # memory as not included (its accuracy score still counts)
    included_parsed: bool = True

    @classmethod
    def of(cls, user: str, session: int, r: Ruling) -> AccuracyRecord:
        return cls(user=user, session=session, score=_int(r.score) if r.valid else None,
                   is_included=r.extra.get("is_included") if r.valid else None,
                   included_parsed=r.extra.get("is_included_parsed", True))


class UpdateRecord(_Rec):
    user: str
    session: int
    point_index: int
    memory_type: str
    label: str | None

    @classmethod
    def of(cls, user: str, session: int, point: MemoryPoint, r: Ruling) -> UpdateRecord:
        return cls(user=user, session=session, point_index=point.index,
                   memory_type=point.memory_type, label=r.label if r.valid else None)


class QARecord(_Rec):
    user: str
    session: int
    question_type: str
    difficulty: str
    label: str | None


Record = IntegrityRecord | AccuracyRecord | UpdateRecord | QARecord
RECORDS: dict[str, type[Record]] = {"integrity": IntegrityRecord, "accuracy": AccuracyRecord,
                                    "update": UpdateRecord, "qa": QARecord}


def _int(x: Any) -> int | None:
    return None if x is None else int(x)


def _s(score: int | None) -> float | None:
    return None if score is None else 0.5 * score


def _hit(flag: bool, valid: bool) -> float | None:
    return float(flag) if valid else None


def items(rec: Record, sample_id: str, prediction_id: str) -> list[Score]:
    """The item scores one verdict record contributes (see the module docstring)."""
    def mk(metric: str, value: float | None, weight: float = 1.0, **strata: str) -> Score:
        return Score(sample_id=sample_id, cluster=rec.user, metric=metric, value=value,
                     weight=weight, strata=strata, prediction_id=prediction_id)

    if isinstance(rec, IntegrityRecord):
        ok, t = rec.score is not None, rec.memory_type
        if rec.is_interference:  # a distractor: resisted iff absent (score 0)
            return [mk("fmr", _hit(rec.score == 0, ok), memory_type=t,
                       extraction="empty" if rec.empty_extraction else "non-empty")]
        flag = "empty" if rec.empty_extraction else "non-empty"
        return [mk("memory_recall", _hit(rec.score == 2, ok), memory_type=t,  # partial = 0
                   extraction=flag),
                mk("weighted_recall", _s(rec.score), rec.importance, memory_type=t),
                mk("typewise_accuracy", _hit(rec.score == 2, ok), memory_type=t)]
    if isinstance(rec, AccuracyRecord):
        inc = "unparsed" if not rec.included_parsed else "yes" if rec.is_included else "no"
        out = [mk("memory_accuracy", _s(rec.score), included=inc)]
        if rec.is_included is True:  # an invalid verdict has no is_included: in neither
            out.append(mk("target_precision", _s(rec.score)))
        return out
    if isinstance(rec, UpdateRecord):
        ok = rec.label in UPDATE_LABELS
        return [mk(f"update_{lab.lower()}", _hit(rec.label == lab, ok), memory_type=rec.memory_type)
                for lab in UPDATE_LABELS] + [
                mk("typewise_accuracy", _hit(rec.label == "Correct", ok),
                   memory_type=rec.memory_type)]
    ok = rec.label in QA_LABELS
    return [mk(f"qa_{lab.lower()}", _hit(rec.label == lab, ok), question_type=rec.question_type,
               difficulty=rec.difficulty) for lab in QA_LABELS]


def extraction_f1(precision: float | None, recall_: float | None) -> float | None:
    """2PR/(P+R); 0 when P+R = 0; None when either side is undefined."""
    if precision is None or recall_ is None:
        return None
    total = precision + recall_
    return 0.0 if total == 0 else 2 * precision * recall_ / total


def _ratio_arrays(rows: Sequence[Score]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """"(all)" numerator and denominator of a ratio metric's rows (invalid -> 0)."""
    num = np.array([0.0 if r.value is None else r.value * r.weight for r in rows])
    return num, np.array([r.weight for r in rows], dtype=float), [r.cluster for r in rows]


def extraction_f1_block(scores: Sequence[Score], seed: int = 0) -> Block | None:
    """F1 of target precision and memory recall ("(all)"), bootstrapped jointly: one cluster
    draw resamples both. None while the run has no extraction items."""
    p_rows = [s for s in scores if s.metric == "target_precision"]
    r_rows = [s for s in scores if s.metric == "memory_recall"]
    if not p_rows and not r_rows:
        return None
    pn, pd, pc = _ratio_arrays(p_rows)
    rn, rd, rc = _ratio_arrays(r_rows)
    p = pn.sum() / pd.sum() if pd.sum() > 0 else None
    r = rn.sum() / rd.sum() if rd.sum() > 0 else None
    point = extraction_f1(p, r)  # 0 when P + R = 0, as the spec and the official scorer
    est = Estimate(n=len(pd) + len(rd), n_clusters=len(set(pc) | set(rc)), mean=point,
                   method="f1 of ratios (all)/cluster bootstrap", seed=seed)
    if point is not None and len(set(pc) & set(rc)) >= 2:
        def f1(t: dict[str, np.ndarray]) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                pp, rr = t["pn"] / t["pd"], t["rn"] / t["rd"]
                return np.where(pp + rr > 0, 2 * pp * rr / (pp + rr), 0.0)

        _, se, ci = cluster_bootstrap(f1, {"pn": pn, "pd": pd, "rn": rn, "rd": rd},
                                      {"pn": pc, "pd": pc, "rn": rc, "rd": rc}, seed=seed)
        est = est.model_copy(update={"se": se, "ci_boot": ci})
    return Block(all=est, valid=est, n_invalid=0)


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


def verdict_counts(scores: Sequence[Score]) -> dict[str, int]:
    """How many records each judge produced, and how many of them were invalid."""
    def n(metric: str, invalid: bool = False) -> int:
        return sum(s.metric == metric and (not invalid or s.value is None) for s in scores)

    return {"integrity": n("memory_recall"), "interference": n("fmr"),
            "integrity_invalid": n("memory_recall", True) + n("fmr", True),
            "accuracy": n("memory_accuracy"), "accuracy_invalid": n("memory_accuracy", True),
            "accuracy_included_unparsed": sum(s.metric == "memory_accuracy" and
                                              s.strata.get("included") == "unparsed"
                                              for s in scores),
            "update": n("update_correct"), "update_invalid": n("update_correct", True),
            "qa": n("qa_correct"), "qa_invalid": n("qa_correct", True)}
