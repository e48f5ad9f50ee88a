"""Two runs side by side: per-sample outcome quadrants (both right, A only, B only, both wrong)
on the items both runs scored, with the items listed. Items are joined on sample_id with
`memeval.runs.paired`, the same join the paired tests use.

An item is "right" when its score reaches the threshold: value >= t for higher-is-better
metrics, value <= 1 - t for lower-is-better ones (hallucination, omission), so a binary metric
at t = 0.5 means correct / not hallucinated. An invalid or missing verdict is never right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from memeval.runs import LoadedRun, paired
from memeval.records import Prediction, Score

QUADRANTS = ("both right", "A only", "B only", "both wrong")
ITEM_COLUMNS = ["sample_id", "cluster", "strata", "A score", "B score", "question", "gold",
                "A output", "B output"]


@dataclass
class Quadrants:
    metric: str
    threshold: float
    binary: bool
    items: dict[str, pd.DataFrame]  # quadrant -> its items (ITEM_COLUMNS)
    n_only_a: int
    n_only_b: int

    def counts(self) -> dict[str, int]:
        return {q: len(df) for q, df in self.items.items()}

    def summary(self) -> pd.DataFrame:
        total = sum(self.counts().values()) or 1
        return pd.DataFrame([{"quadrant": q, "items": n, "share %": round(100 * n / total, 1)}
                             for q, n in self.counts().items()])


def common_metrics(a: LoadedRun, b: LoadedRun) -> list[str]:
    """Metrics both runs scored on shared items (never the per-system memory metrics)."""
    return sorted(m for m in a.pairable() & b.pairable() if set(a.scores[m]) & set(b.scores[m]))


def is_right(value: float | None, higher_is_better: bool, threshold: float) -> bool:
    if value is None:
        return False
    return value >= threshold if higher_is_better else value <= 1.0 - threshold


def _output(preds: dict[str, Prediction], s: Score) -> str:
    p = preds.get(s.sample_id)
    if p is not None:
        return (p.output or "") if p.error is None else f"error: {p.error}"
    reason = s.detail.get("reason")  # an item of a larger prediction: its judge's reason
    return str(reason) if reason is not None else ""


def _reference(preds: dict[str, Prediction], s: Score) -> tuple[str, str]:
    p = preds.get(s.sample_id)
    ref: dict[str, Any] = p.reference if p is not None else {}
    return str(ref.get("question", "")), str(ref.get("answer", ""))


def quadrants(a: LoadedRun, b: LoadedRun, metric: str, threshold: float = 0.5,
              preds_a: dict[str, Prediction] | None = None,
              preds_b: dict[str, Prediction] | None = None) -> Quadrants:
    d = paired(a, b, metric)
    sa, sb = a.scores[metric], b.scores[metric]
    pa, pb = preds_a or {}, preds_b or {}
    rows: dict[str, list[list[Any]]] = {q: [] for q in QUADRANTS}
    values = []
    up = a.spec(metric).higher_is_better
    for sid in d.ids:
        x, y = sa[sid], sb[sid]
        values += [x.value, y.value]
        ra, rb = is_right(x.value, up, threshold), is_right(y.value, up, threshold)
        q = QUADRANTS[0 if ra and rb else 1 if ra else 2 if rb else 3]
        question, gold = _reference(pa, x)
        rows[q].append([sid, x.cluster, ", ".join(f"{k}={v}" for k, v in x.strata.items() if v),
                        x.value, y.value, question, gold, _output(pa, x), _output(pb, y)])
    binary = all(v in (0.0, 1.0) for v in values if v is not None)
    return Quadrants(metric=metric, threshold=threshold, binary=binary,
                     items={q: pd.DataFrame(r, columns=ITEM_COLUMNS) for q, r in rows.items()},
                     n_only_a=d.n_only_a, n_only_b=d.n_only_b)
