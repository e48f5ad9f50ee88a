"""Declared metrics from item-level scores: overall and per declared stratum, "(all)" and
"(valid)", each with n, clusters, SE and CIs (memeval.stats). Tasks call this for every metric
whose estimator is "mean" or "ratio" and add their "custom" ones themselves.

"(all)": invalid scores (None: failed sample, unparseable verdict) count as 0.
"(valid)": they are excluded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from memeval.contracts.metrics import MetricSpec
from memeval.contracts.results import Block, Estimate, MetricEntry
from memeval.records import Score
from memeval.stats import summarize, summarize_ratio


def block(spec: MetricSpec, rows: Sequence[Score], seed: int = 0) -> Block:
    """One block of a mean or ratio metric over `rows` (in their order: float sums depend on it)."""
    clusters = [r.cluster for r in rows]
    ests = {}
    for variant in ("all", "valid"):
        if spec.estimator == "ratio":
            num = [None if r.value is None else r.value * r.weight for r in rows]
            s = summarize_ratio(num, [r.weight for r in rows], clusters, seed=seed,
                                invalid=variant)
        else:
            s = summarize([r.value for r in rows], clusters, seed=seed, invalid=variant)
        ests[variant] = Estimate(**s.to_dict())
    return Block(all=ests["all"], valid=ests["valid"],
                 n_invalid=sum(r.value is None for r in rows))


def summarize_metrics(specs: Iterable[MetricSpec], scores: Iterable[Score],
                      seed: int = 0) -> dict[str, MetricEntry]:
    """An entry per declared mean/ratio metric that has scores, in declaration order. A score
    of an undeclared metric is a bug in its task: ValueError naming it."""
    specs = list(specs)
    by_metric: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_metric[s.metric].append(s)
    stray = set(by_metric) - {s.name for s in specs}
    if stray:
        raise ValueError(f"scores of undeclared metric(s): {', '.join(sorted(stray))}")
    out: dict[str, MetricEntry] = {}
    for spec in specs:
        rows = by_metric.get(spec.name)
        if spec.estimator == "custom" or not rows:
            continue
        entry = MetricEntry(spec=spec, overall=block(spec, rows, seed) if spec.overall else None)
        for key in spec.strata:
            groups: dict[str, list[Score]] = defaultdict(list)
            for r in rows:
                if key in r.strata:
                    groups[r.strata[key]].append(r)
            known = spec.levels.get(key, ())
            levels = [*known, *sorted(set(groups) - set(known))]
            if levels:
                entry.strata[key] = {lv: block(spec, groups.get(lv, []), seed) for lv in levels}
        out[spec.name] = entry
    return out
