"""Paired comparisons (A vs B on the same items), effect sizes and multiple-comparison correction
(spec: specs/statistics.md). Re-exported by `memeval.stats`.

Inputs are aligned per item (join on sample_id first). A pair with a None/NaN on either side is
dropped and counted (`n_invalid`) where the result is a dict.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as _sps
from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar
from statsmodels.stats.multitest import multipletests

from memeval.stats.clustered import (
    ArrayLike,
    _check_level,
    _floats,
    _labels,
    _opt,
    cluster_bootstrap,
    cluster_codes,
    clustered_se,
)

_CHUNK_CELLS = 1 << 22  # sign-matrix cells per chunk (memory bound, not per-permutation work)


def _pairs(a: ArrayLike, b: ArrayLike, clusters: ArrayLike | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    x, y = _floats(a, "a"), _floats(b, "b")
    if len(x) != len(y):
        raise ValueError(f"a and b differ in length ({len(x)} vs {len(y)}); join on sample_id")
    lab = _labels(clusters, len(x))
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok], lab[ok], int((~ok).sum())


def paired_bootstrap_diff(a: ArrayLike, b: ArrayLike, clusters: ArrayLike | None, *,
                          n_boot: int = 10000, seed: int = 0, level: float = 0.95
                          ) -> dict[str, Any]:
    """mean(a) - mean(b) with a paired cluster-bootstrap percentile CI: whole clusters are
    resampled and each item keeps its A/B pair. `se` is the bootstrap SE; `se_clustered` the
    Liang-Zeger SE of the paired differences."""
    _check_level(level)
    x, y, lab, n_bad = _pairs(a, b, clusters)
    d = x - y
    codes, c = cluster_codes(lab, len(d))
    out: dict[str, Any] = {"diff": None, "se": None, "se_clustered": None, "ci": None,
                           "n": len(d), "n_clusters": c, "n_invalid": n_bad, "level": level,
                           "n_boot": n_boot, "seed": seed}
    if len(d) == 0:
        return out
    out["diff"] = float(d.mean())
    if c >= 2:
        _, se, ci = cluster_bootstrap(lambda t: t["d"] / t["n"], {"d": d, "n": np.ones(len(d))},
                                      codes, n_boot=n_boot, seed=seed, level=level)
        out.update(se=_opt(se), ci=ci if math.isfinite(ci[0]) else None,
                   se_clustered=_opt(clustered_se(d, codes)))
    return out


def mcnemar_exact(a_correct: ArrayLike, b_correct: ArrayLike) -> dict[str, Any]:
    """Exact McNemar test on the discordant pairs: b = A right & B wrong, c = A wrong & B right.
    `statistic` is min(b, c) (statsmodels' exact convention); no discordant pairs -> p = 1."""
    x, y, _, n_bad = _pairs(a_correct, b_correct)
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        raise ValueError("mcnemar_exact needs binary outcomes (0/1 or bool)")
    x, y = x.astype(bool), y.astype(bool)
    b, c = int((x & ~y).sum()), int((~x & y).sum())
    out = {"b": b, "c": c, "n": len(x), "n_invalid": n_bad}
    if b + c == 0:
        return {**out, "statistic": 0.0, "pvalue": 1.0}
    table = [[int((x & y).sum()), b], [c, int((~x & ~y).sum())]]
    res = _sm_mcnemar(table, exact=True)
    return {**out, "statistic": float(res.statistic), "pvalue": float(res.pvalue)}


def _signs(rows: np.ndarray, c: int) -> np.ndarray:
    """Rows of the full 2^c sign enumeration: bit j of the row number sets cluster j's sign."""
    return ((rows[:, None] >> np.arange(c)) & 1) * 2.0 - 1.0


def cluster_signflip_test(a: ArrayLike, b: ArrayLike, clusters: ArrayLike | None, *,
                          n_perm: int = 10000, seed: int = 0) -> dict[str, Any]:
    """Two-sided paired permutation test by sign flips of per-cluster mean differences.

    Statistic: the mean over clusters of mean_c(a - b). Under H0 (A and B exchangeable within
    each pair) each cluster's difference is equally likely to have either sign. Exact
    enumeration when 2^C <= n_perm (p = share of |T*| >= |T|, identity included), else n_perm
    random flips with p = (1 + #{|T*| >= |T|}) / (1 + n_perm)."""
    x, y, lab, n_bad = _pairs(a, b, clusters)
    codes, c = cluster_codes(lab, len(x))
    out: dict[str, Any] = {"statistic": None, "pvalue": None, "exact": False, "n_clusters": c,
                           "n_perm": n_perm, "seed": seed, "n_invalid": n_bad}
    if c == 0:
        return out
    m = np.bincount(codes, weights=x - y, minlength=c) / np.bincount(codes, minlength=c)
    t = float(m.mean())
    tol = 1e-12 * max(1.0, float(np.abs(m).max()))  # the identity flip must count as >= |T|
    exact = c < 63 and 2 ** c <= n_perm
    total = 2 ** c if exact else n_perm
    step = max(1, _CHUNK_CELLS // c)
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, total, step):  # chunks of sign vectors, for memory only
        k = min(step, total - start)
        s = _signs(np.arange(start, start + k), c) if exact else \
            rng.integers(0, 2, size=(k, c)) * 2.0 - 1.0
        hits += int((np.abs(s @ m / c) >= abs(t) - tol).sum())
    p = hits / total if exact else (1 + hits) / (1 + n_perm)
    return {**out, "statistic": t, "pvalue": float(min(1.0, p)), "exact": exact}


def wilcoxon_paired(a: ArrayLike, b: ArrayLike) -> dict[str, Any]:
    """Wilcoxon signed-rank test on a - b (scipy; zero differences dropped, "wilcox").
    All differences zero -> statistic 0, p = 1 (scipy would warn/return nan)."""
    x, y, _, n_bad = _pairs(a, b)
    d = x - y
    nz = int((d != 0).sum())
    out: dict[str, Any] = {"n": len(d), "n_nonzero": nz, "n_invalid": n_bad}
    if len(d) == 0:
        return {**out, "statistic": None, "pvalue": None}
    if nz == 0:
        return {**out, "statistic": 0.0, "pvalue": 1.0}
    res = _sps.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return {**out, "statistic": float(res.statistic), "pvalue": float(res.pvalue)}


def cohens_d_paired(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's d_z: mean(a - b) / sd(a - b, ddof=1). 0 when all differences are 0; nan when
    undefined (fewer than 2 pairs, or a constant non-zero difference)."""
    x, y, _, _ = _pairs(a, b)
    d = x - y
    if len(d) < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return 0.0 if d.mean() == 0 else math.nan
    return float(d.mean() / sd)


def cliffs_delta(a: ArrayLike, b: ArrayLike) -> float:
    """Cliff's delta P(a > b) - P(a < b) over all (a_i, b_j) pairs (two-sample dominance; it
    ignores pairing). O(n log n) through a sorted b."""
    x, y = _floats(a, "a"), _floats(b, "b")
    x, y = x[np.isfinite(x)], np.sort(y[np.isfinite(y)])
    if len(x) == 0 or len(y) == 0:
        return math.nan
    below = np.searchsorted(y, x, side="left").sum()  # b_j < a_i
    above = (len(y) - np.searchsorted(y, x, side="right")).sum()  # b_j > a_i
    return float((below - above) / (len(x) * len(y)))


def minimum_detectable_effect(sd_diff: float, n: int, *, alpha: float = 0.05,
                              power: float = 0.8, design_effect: float = 1.0) -> float:
    """Smallest true mean difference a two-sided level-alpha paired test detects with the given
    power (normal approximation): (z_{1-alpha/2} + z_power) * sd_diff * sqrt(deff / n).
    `design_effect` inflates the variance for clustering (see `memeval.stats.design_effect`)."""
    if n <= 0:
        raise ValueError("n must be positive")
    z = _sps.norm.ppf(1.0 - alpha / 2.0) + _sps.norm.ppf(power)
    return float(z * sd_diff * math.sqrt(design_effect / n))


def correct_pvalues(pvalues: ArrayLike, method: str) -> list[float]:
    """Multiple-comparison adjusted p-values: method "holm" (family-wise) or "fdr_bh" (false
    discovery rate), passed explicitly (statsmodels' default is Holm-Sidak). NaNs stay NaN and
    do not count towards the family."""
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"method must be 'holm' or 'fdr_bh', got {method!r}")
    p = _floats(pvalues, "pvalues")
    out = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return [float(v) for v in out]
