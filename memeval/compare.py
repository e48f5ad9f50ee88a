"""`memeval compare RUN...`: paired comparisons of runs on the same items (spec: statistics.md).

Runs are joined on sample_id per metric; the "(all)" estimator is used (a missing or invalid
verdict scores 0), so a system cannot gain by failing on hard items. Every pair of runs gets a
paired cluster-bootstrap CI of the difference, the spec's tests, effect sizes and the minimum
detectable effect; p-values are corrected across all reported pairs and metrics together.
"""

from __future__ import annotations

import argparse
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from memeval import __version__
from memeval import stats
from memeval.derived import UNPAIRABLE, add_derived
from memeval.errors import UserError, unknown_name
from memeval.records import RunManifest, Score, utcnow
from memeval.runfolder import RunFolder, write_json_atomic

FEW_CLUSTERS = 5  # below this, cluster-level inference is unreliable
ALPHA = 0.05
ESTIMATOR_NOTE = ("paired analysis on the '(all)' estimator: a missing or invalid verdict "
                  "scores 0 on both sides of a pair")
# Rates where less is better (HaluMem); everything else is ranked higher-is-better.
_LOWER_WORDS = ("hallucination", "omission", "error_rate", "latency")


def lower_is_better(metric: str) -> bool:
    return any(w in metric for w in _LOWER_WORDS)


def _f(x: Any) -> float | None:
    """JSON-safe float: nan/inf -> None."""
    return float(x) if x is not None and math.isfinite(float(x)) else None


@dataclass
class LoadedRun:
    label: str
    folder: RunFolder
    manifest: RunManifest
    scores: dict[str, dict[str, Score]]  # metric -> sample_id -> score

    @property
    def judges(self) -> list[str]:
        """Judge identities as recorded on the verdicts themselves (a re-score may change them)."""
        return sorted({str(s.detail["judge"]) for by in self.scores.values()
                       for s in by.values() if "judge" in s.detail})


def _system_label(m: RunManifest) -> str:
    opts = ",".join(f"{k}={v}" for k, v in sorted((m.system.get("options") or {}).items()))
    return f"{m.system.get('name', '?')}{':' + opts if opts else ''}"


def load_run(path: Path | str) -> LoadedRun:
    folder = RunFolder(path).require()
    m = folder.manifest()
    by: dict[str, dict[str, Score]] = {}
    for s in folder.scores():
        by.setdefault(s.metric, {})[s.sample_id] = s
    if not by:
        raise UserError(f"{folder.path} has no scores (run `memeval score {folder.path}`)")
    add_derived(str(m.task.get("name")), by)
    return LoadedRun(_system_label(m), folder, m, by)


def load_runs(paths: list[Path]) -> list[LoadedRun]:
    runs = [load_run(p) for p in paths]
    labels = [r.label for r in runs]
    for r in runs:  # same system twice (seeds, reruns): tell them apart by folder name
        if labels.count(r.label) > 1:
            r.label = f"{r.label}@{r.folder.path.name}"
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
        if seen[r.label] > 1:
            r.label = f"{r.label}#{seen[r.label]}"
    return runs


def _identity(r: LoadedRun) -> dict[str, Any]:
    t = r.manifest.task
    return {"task": t.get("name"), "task version": t.get("version"),
            "data sha256": (t.get("data") or {}).get("sha256"), "setting": r.manifest.setting,
            "judge": (r.manifest.config.get("judge"), tuple(r.judges))}


def check_comparable(runs: list[LoadedRun]) -> None:
    """Paired tests need the same items scored the same way: refuse otherwise, saying why."""
    ref = _identity(runs[0])
    problems = []
    for r in runs[1:]:
        ident = _identity(r)
        for key, want in ref.items():
            if ident[key] != want:
                problems.append(f"{key} differs: {runs[0].label} ({runs[0].folder.path}) has "
                                f"{want!r}, {r.label} ({r.folder.path}) has {ident[key]!r}")
    if problems:
        raise UserError("cannot compare these runs: " + "; ".join(problems) +
                        " (paired tests need the same task, data, setting and judge)")


def select_metrics(runs: list[LoadedRun], wanted: list[str] | None) -> list[str]:
    common = set.intersection(*(set(r.scores) for r in runs)) - UNPAIRABLE
    if wanted:
        for m in wanted:
            if m not in common:
                raise unknown_name("metric (common to all runs)", m, common)
        return list(dict.fromkeys(wanted))
    if not common:
        raise UserError("the runs share no metric")
    return sorted(common)


def paired(a: LoadedRun, b: LoadedRun, metric: str, stratum: dict[str, str] | None = None
           ) -> dict[str, Any]:
    """Values of both runs on their common items ("(all)": None -> 0), with clusters."""
    sa, sb = a.scores.get(metric, {}), b.scores.get(metric, {})
    if stratum:
        match = (lambda s: all(s.strata.get(k) == v for k, v in stratum.items()))
        sa = {k: s for k, s in sa.items() if match(s)}
        sb = {k: s for k, s in sb.items() if match(s)}
    ids = sorted(set(sa) & set(sb))
    return {"ids": ids,
            "a": np.array([0.0 if sa[i].value is None else sa[i].value for i in ids]),
            "b": np.array([0.0 if sb[i].value is None else sb[i].value for i in ids]),
            "clusters": np.array([sa[i].cluster for i in ids], dtype=object).astype(str),
            "n_only_a": len(set(sa) - set(sb)), "n_only_b": len(set(sb) - set(sa)),
            "n_invalid_a": sum(sa[i].value is None for i in ids),
            "n_invalid_b": sum(sb[i].value is None for i in ids)}


class PairResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
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


class RankEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: str
    rank: int
    shared: bool  # another run has the same rank: the corrected tests do not separate them
    mean: float | None
    ci: tuple[float, float] | None
    n: int


class RunInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
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


class CompareReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memeval_version: str = __version__
    created: str
    runs: list[RunInfo]
    metrics: list[str]
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


def compare_pair(a: LoadedRun, b: LoadedRun, metric: str, *, n_boot: int, n_perm: int,
                 seed: int) -> PairResult:
    d = paired(a, b, metric)
    x, y, cl = d["a"], d["b"], d["clusters"]
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
        n_only_a=d["n_only_a"], n_only_b=d["n_only_b"], n_invalid_a=d["n_invalid_a"],
        n_invalid_b=d["n_invalid_b"], mean_a=_f(x.mean()), mean_b=_f(y.mean()),
        diff=_f(boot["diff"]), ci=boot["ci"], se=_f(boot["se"]), test=test, p_raw=_f(p),
        mcnemar=mc, signflip=flip, wilcoxon=wx, cohens_d=_f(stats.cohens_d_paired(x, y)),
        cliffs_delta=_f(stats.cliffs_delta(x, y)), mde=_f(mde), design_effect=_f(deff))


def rank(metric: str, runs: list[LoadedRun], pairs: list[PairResult]) -> list[RankEntry]:
    """Rank = 1 + number of runs that beat this one significantly (corrected); runs the tests
    do not separate can share a rank, and a shared rank is flagged."""
    common = set.intersection(*(set(r.scores[metric]) for r in runs))
    sign = -1.0 if lower_is_better(metric) else 1.0
    beaten_by = {r.label: 0 for r in runs}
    for p in pairs:
        if p.metric == metric and p.significant and p.diff:
            loser = p.b if sign * p.diff > 0 else p.a
            beaten_by[loser] += 1
    out = []
    for r in runs:
        ids = sorted(common)
        vals = [0.0 if r.scores[metric][i].value is None else r.scores[metric][i].value
                for i in ids]
        s = stats.summarize(vals, [r.scores[metric][i].cluster for i in ids], invalid="all")
        out.append(RankEntry(run=r.label, rank=1 + beaten_by[r.label], shared=False,
                             mean=s.mean, ci=s.ci, n=s.n))
    ranks = [e.rank for e in out]
    for e in out:
        e.shared = ranks.count(e.rank) > 1
    out.sort(key=lambda e: (e.rank, -sign * (e.mean if e.mean is not None else -math.inf)))
    return out


def _run_info(r: LoadedRun) -> RunInfo:
    m, ident = r.manifest, _identity(r)
    return RunInfo(label=r.label, path=str(r.folder.path), run_id=m.run_id,
                   system=str(m.system.get("name")), system_options=m.system.get("options") or {},
                   seed=m.seed, task=str(ident["task"]), task_version=str(ident["task version"]),
                   data_sha256=ident["data sha256"], setting=m.setting,
                   judge=", ".join(r.judges) or m.config.get("judge"))


def restrict(runs: list[LoadedRun], stratum: dict[str, str]) -> None:
    """Keep only the scores of one stratum (e.g. LoCoMo category 5: adversarial questions)."""
    for r in runs:
        kept = {m: {k: s for k, s in by.items()
                    if all(s.strata.get(a) == b for a, b in stratum.items())}
                for m, by in r.scores.items()}
        r.scores = {m: by for m, by in kept.items() if by}


def parse_stratum(specs: list[str] | None) -> dict[str, str]:
    out = {}
    for spec in specs or []:
        key, eq, val = spec.partition("=")
        if not eq or not key or not val:
            raise UserError(f"--stratum {spec!r}: expected KEY=VALUE, e.g. category=5")
        out[key.strip()] = val.strip()
    return out


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
    notes = [ESTIMATOR_NOTE] + ([f"restricted to stratum {stratum}"] if stratum else []) + [
             f"p-values corrected with {correction} across all {len(pairs)} reported "
             f"(pair, metric) tests; significant at corrected p < {ALPHA}",
             "primary test: exact McNemar for binary metrics (items treated as independent; "
             "the cluster sign-flip p is reported beside it), cluster sign-flip for continuous "
             "ones (Wilcoxon as a robustness check)"]
    for p in pairs:
        if p.n_clusters < 2:
            notes.append(f"{p.metric} {p.a} vs {p.b}: one cluster only: no CI, and the sign-flip "
                         "test cannot reject")
            break
    few = min((p.n_clusters for p in pairs if p.n_clusters >= 2), default=None)
    if few is not None and few < FEW_CLUSTERS:
        # C clusters give at most 2^C sign flips and few distinct bootstrap resamples: the
        # smallest attainable p is 2/2^C and percentile CIs come out too narrow.
        notes.append(f"only {few} clusters in some pairs: cluster CIs are too narrow and the "
                     f"sign-flip p cannot go below {2 / 2 ** few:.3g}; read them as rough")
    if any(p.n_only_a or p.n_only_b for p in pairs):
        notes.append("some items are scored in one run only; pairs use the common items")
    opts = [r.manifest.task.get("options") or {} for r in runs]
    for key in sorted({k for o in opts for k in o}):
        vals = [o.get(key) for o in opts]
        if any(v != vals[0] for v in vals):
            notes.append(f"task option {key!r} differs: " +
                         ", ".join(f"{r.label}={v!r}" for r, v in zip(runs, vals)))
    return CompareReport(created=utcnow(), runs=[_run_info(r) for r in runs], metrics=chosen,
                         stratum=stratum or {}, correction=correction, alpha=ALPHA,
                         n_boot=n_boot, n_perm=n_perm,
                         seed=seed, pairs=pairs,
                         rankings={m: rank(m, runs, pairs) for m in chosen}, notes=notes)


# ---- terminal output and command ------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _p(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def _ci(ci: Any) -> str:
    return f"[{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "-"


def print_report(console: Any, rep: CompareReport) -> None:
    from rich.table import Table

    t = Table(title=f"paired differences A - B (x100); p corrected with {rep.correction}",
              title_justify="left")
    for col in ("metric", "A vs B", "n (cl.)", "mean A / B", "A - B [95% CI]", "test", "p",
                "p adj.", "d", "Cliff", "MDE"):
        t.add_column(col, justify="left" if col in ("metric", "A vs B", "test") else "right",
                     no_wrap=col == "metric")
    for p in rep.pairs:
        star = "*" if p.significant else ""
        t.add_row(p.metric, f"{p.a}\nvs {p.b}", f"{p.n} ({p.n_clusters})",
                  f"{_pct(p.mean_a)} / {_pct(p.mean_b)}", f"{_pct(p.diff)}{star} {_ci(p.ci)}",
                  "McNemar" if p.test == "mcnemar_exact" else "sign-flip", _p(p.p_raw),
                  _p(p.p_corrected), "-" if p.cohens_d is None else f"{p.cohens_d:.2f}",
                  "-" if p.cliffs_delta is None else f"{p.cliffs_delta:.2f}", _pct(p.mde))
    console.print(t)
    r = Table(title="ranks (shared rank '=' where corrected tests do not separate runs)",
              title_justify="left")
    for col in ("metric", "rank", "run", "mean x100", "95% CI", "n"):
        r.add_column(col, justify="left" if col in ("metric", "run") else "right")
    for metric, entries in rep.rankings.items():
        arrow = "lower is better" if lower_is_better(metric) else "higher is better"
        for e in entries:
            r.add_row(f"{metric} ({arrow})", f"{e.rank}{'=' if e.shared else ''}", e.run,
                      _pct(e.mean), _ci(e.ci), str(e.n))
    console.print(r)
    console.print("\n".join(["* significant after correction"] + rep.notes), style="dim")


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="paired comparison of runs on the same task: CIs, tests, "
                                       "corrected p-values, effect sizes, ranks")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN")
    p.add_argument("--metric", action="append", help="metric to compare (repeatable; default: "
                   "every metric all runs share)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full result as JSON")
    p.add_argument("--correction", choices=["holm", "fdr_bh"], default="holm",
                   help="multiple-comparison correction across all pairs and metrics "
                        "(default holm: family-wise)")
    p.add_argument("--stratum", action="append", metavar="KEY=VALUE",
                   help="compare within one stratum only, e.g. category=5 (repeatable)")
    p.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstrap and permutations")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from memeval.cli import console

    rep = compare_runs(args.runs, args.metric, correction=args.correction, n_boot=args.n_boot,
                       n_perm=args.n_boot, seed=args.seed, stratum=parse_stratum(args.stratum))
    print_report(console, rep)
    if args.json:
        write_json_atomic(args.json, rep.model_dump(mode="json"))
        console.print(f"written: {args.json}")
    return 0
