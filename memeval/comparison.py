"""Paired comparison of runs on the same items (spec: statistics.md).

Runs are joined on sample_id per metric, only for metrics their task declares pairable; the
"(all)" estimator is used (a missing or invalid verdict scores 0), so a system cannot gain by
failing on hard items. Every pair of runs gets a paired cluster-bootstrap CI of the difference,
the spec's tests, effect sizes and the minimum detectable effect; p-values are corrected across
all reported pairs and metrics together. Directions come from the declared metric specs.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from memeval import __version__, stats
from memeval.contracts import SETTINGS
from memeval.errors import UserError, unknown_name
from memeval.numbers import finite_or_none as _f
from memeval.records import utcnow
from memeval.runs import LoadedRun, check_comparable, cross_setting, load_runs, paired, restrict

FEW_CLUSTERS = 5  # below this, cluster-level inference is unreliable
ALPHA = 0.05
ESTIMATOR_NOTE = ("paired analysis on the '(all)' estimator: a missing or invalid verdict "
                  "scores 0 on both sides of a pair")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairResult(_Model):
    metric: str
    a: str
    b: str
    binary: bool
    n: int
    n_clusters: int
    n_only_a: int
    n_only_b: int
    n_invalid_a: int
    n_invalid_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None  # mean(a) - mean(b)
    ci: tuple[float, float] | None  # paired cluster bootstrap, percentile
    se: float | None
    test: str  # the primary test, whose p-value is corrected
    p_raw: float | None
    p_corrected: float | None = None
    significant: bool = False
    mcnemar: dict[str, Any] | None = None
    signflip: dict[str, Any]
    wilcoxon: dict[str, Any] | None = None
    cohens_d: float | None
    cliffs_delta: float | None
    mde: float | None  # minimum detectable effect, 80% power, two-sided alpha
    design_effect: float | None


class RankEntry(_Model):
    run: str
    setting: str  # ranks count within one setting only (governance.md)
    rank: int
    shared: bool  # another run has the same rank: the corrected tests do not separate them
    mean: float | None
    ci: tuple[float, float] | None
    n: int


class RunInfo(_Model):
    label: str
    path: str
    run_id: str
    system: str
    system_options: dict[str, Any]
    seed: int
    task: str
    task_version: str
    data_sha256: str | None
    setting: str
    judge: str | None


class CompareReport(_Model):
    memeval_version: str = __version__
    created: str
    runs: list[RunInfo]
    metrics: list[str]
    higher_is_better: dict[str, bool]  # as the task declares each metric
    cross_setting: bool = False  # runs of different settings: what memory adds (labelled)
    stratum: dict[str, str]
    estimator: str = ESTIMATOR_NOTE
    correction: str
    alpha: float
    n_boot: int
    n_perm: int
    seed: int
    pairs: list[PairResult]
    rankings: dict[str, list[RankEntry]]
    notes: list[str]


def select_metrics(runs: list[LoadedRun], wanted: list[str] | None) -> list[str]:
    common = set.intersection(*(r.pairable() for r in runs))
    if wanted:
        for m in wanted:
            if m not in common:
                raise unknown_name("pairable metric (common to all runs)", m, common)
        return list(dict.fromkeys(wanted))
    if not common:
        raise UserError("the runs share no pairable metric")
    return sorted(common)


def compare_pair(a: LoadedRun, b: LoadedRun, metric: str, *, n_boot: int, n_perm: int,
                 seed: int) -> PairResult:
    d = paired(a, b, metric)
    x, y, cl = d.a, d.b, d.clusters
    n = len(x)
    if n == 0:
        raise UserError(f"{a.label} and {b.label} share no scored item for {metric!r}")
    binary = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    boot = stats.paired_bootstrap_diff(x, y, cl, n_boot=n_boot, seed=seed)
    flip = stats.cluster_signflip_test(x, y, cl, n_perm=n_perm, seed=seed)
    mc = stats.mcnemar_exact(x, y) if binary else None
    wx = None if binary else stats.wilcoxon_paired(x, y)
    diffs = x - y
    sd = float(diffs.std(ddof=1)) if n > 1 else math.nan
    deff = stats.design_effect(diffs, cl) if boot["n_clusters"] >= 2 else math.nan
    mde = (stats.minimum_detectable_effect(sd, n, alpha=ALPHA, design_effect=deff
                                           if math.isfinite(deff) else 1.0)
           if math.isfinite(sd) and sd > 0 else math.nan)
    # Binary: exact McNemar is the spec's test; continuous: the cluster sign-flip test.
    test, p = ("mcnemar_exact", mc["pvalue"]) if mc else ("cluster_signflip", flip["pvalue"])
    return PairResult(
        metric=metric, a=a.label, b=b.label, binary=binary, n=n, n_clusters=boot["n_clusters"],
        n_only_a=d.n_only_a, n_only_b=d.n_only_b, n_invalid_a=d.n_invalid_a,
        n_invalid_b=d.n_invalid_b, mean_a=_f(x.mean()), mean_b=_f(y.mean()),
        diff=_f(boot["diff"]), ci=boot["ci"], se=_f(boot["se"]), test=test, p_raw=_f(p),
        mcnemar=mc, signflip=flip, wilcoxon=wx, cohens_d=_f(stats.cohens_d_paired(x, y)),
        cliffs_delta=_f(stats.cliffs_delta(x, y)), mde=_f(mde), design_effect=_f(deff))


def rank(metric: str, runs: list[LoadedRun], pairs: list[PairResult]) -> list[RankEntry]:
    """Rank = 1 + number of runs of the same setting that beat this one significantly
    (corrected); runs the tests do not separate can share a rank, and a shared rank is
    flagged. Runs of different settings are never ranked against each other."""
    common = sorted(set.intersection(*(set(r.scores[metric]) for r in runs)))
    sign = 1.0 if runs[0].spec(metric).higher_is_better else -1.0
    setting = {r.label: r.manifest.setting for r in runs}
    beaten_by = {r.label: 0 for r in runs}
    for p in pairs:
        if p.metric == metric and p.significant and p.diff and setting[p.a] == setting[p.b]:
            beaten_by[p.b if sign * p.diff > 0 else p.a] += 1
    out = []
    for r in runs:
        by = r.scores[metric]
        s = stats.summarize([0.0 if by[i].value is None else by[i].value for i in common],
                            [by[i].cluster for i in common], invalid="all")
        out.append(RankEntry(run=r.label, setting=setting[r.label], rank=1 + beaten_by[r.label],
                             shared=False, mean=s.mean, ci=s.ci, n=s.n))
    for e in out:
        e.shared = sum(o.rank == e.rank and o.setting == e.setting for o in out) > 1
    order = {st: i for i, st in enumerate(SETTINGS)}
    out.sort(key=lambda e: (order.get(e.setting, 9), e.rank,
                            -sign * (e.mean if e.mean is not None else -math.inf)))
    return out


def _run_info(r: LoadedRun) -> RunInfo:
    m, t = r.manifest, r.manifest.task
    return RunInfo(label=r.label, path=str(r.folder.path), run_id=m.run_id,
                   system=str(m.system.get("name")), system_options=m.system.get("options") or {},
                   seed=m.seed, task=str(t.get("name")), task_version=str(t.get("version")),
                   data_sha256=(t.get("data") or {}).get("sha256"), setting=m.setting,
                   judge=", ".join(r.judges) or m.config.get("judge"))


def _notes(runs: list[LoadedRun], pairs: list[PairResult], correction: str,
           stratum: dict[str, str] | None) -> list[str]:
    notes = [ESTIMATOR_NOTE] + ([f"restricted to stratum {stratum}"] if stratum else []) + [
             f"p-values corrected with {correction} across all {len(pairs)} reported "
             f"(pair, metric) tests; significant at corrected p < {ALPHA}",
             "primary test: exact McNemar for binary metrics (items treated as independent; "
             "the cluster sign-flip p is reported beside it), cluster sign-flip for continuous "
             "ones (Wilcoxon as a robustness check)"]
    if any(p.n_clusters < 2 for p in pairs):
        notes.append("one cluster only in some pairs: no CI there, and the sign-flip test cannot "
                     "reject")
    few = min((p.n_clusters for p in pairs if p.n_clusters >= 2), default=None)
    if few is not None and few < FEW_CLUSTERS:
        # C clusters give at most 2^C sign flips and few distinct bootstrap resamples: the
        # smallest attainable p is 2/2^C and percentile CIs come out too narrow.
        notes.append(f"only {few} clusters in some pairs: cluster CIs are too narrow and the "
                     f"sign-flip p cannot go below {2 / 2 ** few:.3g}; read them as rough")
    if any(p.n_only_a or p.n_only_b for p in pairs):
        notes.append("some items are scored in one run only; pairs use the common items")
    if cross_setting(runs):
        notes.append("cross-setting comparison (" + ", ".join(
            f"{r.label}: {r.manifest.setting}" for r in runs) + "): the differences say what "
            "retrieval or memory adds over parametric knowledge, or over reading everything; "
            "ranks count within each setting only")
    opts = [r.manifest.task.get("options") or {} for r in runs]
    for key in sorted({k for o in opts for k in o}):
        vals = [o.get(key) for o in opts]
        if any(v != vals[0] for v in vals):
            notes.append(f"task option {key!r} differs: " +
                         ", ".join(f"{r.label}={v!r}" for r, v in zip(runs, vals)))
    return notes


def compare_runs(paths: list[Path], metrics: list[str] | None = None, *,
                 correction: str = "holm", n_boot: int = 10000, n_perm: int = 10000,
                 seed: int = 0, stratum: dict[str, str] | None = None) -> CompareReport:
    if len(paths) < 2:
        raise UserError("compare needs at least two run folders")
    if correction not in ("holm", "fdr_bh"):
        raise UserError(f"--correction must be holm or fdr_bh, got {correction!r}")
    runs = load_runs(paths)
    check_comparable(runs)
    if stratum:
        restrict(runs, stratum)
    chosen = select_metrics(runs, metrics)
    pairs = [compare_pair(a, b, m, n_boot=n_boot, n_perm=n_perm, seed=seed)
             for m in chosen for a, b in itertools.combinations(runs, 2)]
    corrected = stats.correct_pvalues([math.nan if p.p_raw is None else p.p_raw for p in pairs],
                                      correction)
    for p, c in zip(pairs, corrected):
        p.p_corrected = _f(c)
        p.significant = p.p_corrected is not None and p.p_corrected < ALPHA
    return CompareReport(created=utcnow(), runs=[_run_info(r) for r in runs], metrics=chosen,
                         higher_is_better={m: runs[0].spec(m).higher_is_better for m in chosen},
                         cross_setting=cross_setting(runs),
                         stratum=stratum or {}, correction=correction, alpha=ALPHA,
                         n_boot=n_boot, n_perm=n_perm, seed=seed, pairs=pairs,
                         rankings={m: rank(m, runs, pairs) for m in chosen},
                         notes=_notes(runs, pairs, correction, stratum))
