"""The three-setting view (governance.md): the same items answered parametric-only (closed
book), with offline retrieval (reading everything) and with online retrieval (memory, RAG).
Per setting the best run on each shared metric, and the paired difference of the best online
run over each other setting: what memory adds over parametric knowledge and over reading
everything. Cross-setting differences are labelled as such; runs are never ranked across
settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memeval.comparison import compare_pair
from memeval.contracts import SETTINGS
from memeval.runs import LoadedRun, check_comparable

MAX_METRICS = 4


@dataclass
class SettingRow:
    setting: str
    run: str  # label of the best run of this setting on the metric
    metric: str
    mean: float | None
    ci: tuple[float, float] | None
    diff: float | None = None  # best online minus this row's run (paired, same items)
    diff_ci: tuple[float, float] | None = None


def _best(runs: list[LoadedRun], metric: str) -> LoadedRun:
    up = runs[0].spec(metric).higher_is_better
    block = (lambda r: r.results.metrics[metric].overall)
    return max(runs, key=lambda r: (block(r).all.mean or 0.0) * (1 if up else -1))


def three_setting_view(runs: Sequence[LoadedRun], n_boot: int = 2000) -> list[SettingRow]:
    """[] unless the runs span two or more settings; they must be comparable."""
    by: dict[str, list[LoadedRun]] = {}
    for r in runs:
        by.setdefault(r.manifest.setting, []).append(r)
    if len(by) < 2:
        return []
    check_comparable(list(runs))
    shared = set.intersection(*(r.pairable() for r in runs))
    metrics = [m for m in runs[0].results.metrics if m in shared
               and runs[0].results.metrics[m].overall is not None][:MAX_METRICS]
    rows = []
    for metric in metrics:
        best = {s: _best(by[s], metric) for s in SETTINGS if s in by}
        online = best.get("online-retrieval")
        for setting, run in best.items():
            est = run.results.metrics[metric].overall.all
            row = SettingRow(setting=setting, run=run.label, metric=metric, mean=est.mean,
                             ci=est.ci)
            if online is not None and run is not online:
                p = compare_pair(online, run, metric, n_boot=n_boot, n_perm=n_boot, seed=0)
                row.diff, row.diff_ci = p.diff, p.ci
            rows.append(row)
    return rows
