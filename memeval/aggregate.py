"""Generic aggregation of per-sample scores: overall and per stratum, "(all)" and "(valid)".

"(all)": invalid scores (None: failed sample, unparseable verdict) count as 0.
"(valid)": they are excluded. Both carry n, clusters, SE and CIs (memeval.stats).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from memeval.records import Score
from memeval.stats import summarize


def _block(values: list[float | None], clusters: list[str], seed: int) -> dict[str, Any]:
    return {"all": summarize(values, clusters, seed=seed, invalid="all").to_dict(),
            "valid": summarize(values, clusters, seed=seed).to_dict(),
            "n_invalid": sum(v is None for v in values)}


def aggregate_scores(scores: Iterable[Score], strata_key: str | None = None,
                     seed: int = 0) -> dict[str, Any]:
    by_metric: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_metric[s.metric].append(s)
    out: dict[str, Any] = {}
    for metric, rows in sorted(by_metric.items()):
        entry = {"overall": _block([r.value for r in rows], [r.cluster for r in rows], seed)}
        if strata_key:
            groups: dict[str, list[Score]] = defaultdict(list)
            for r in rows:
                if strata_key in r.strata:
                    groups[r.strata[strata_key]].append(r)
            entry[f"by_{strata_key}"] = {
                k: _block([r.value for r in g], [r.cluster for r in g], seed)
                for k, g in sorted(groups.items())}
        out[metric] = entry
    return out
