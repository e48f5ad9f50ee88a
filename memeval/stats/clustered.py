"""Per-system statistics memeval reports (spec: specs/statistics.md).

Items are nested in clusters (users, conversations), so uncertainty is clustered: Liang-Zeger
standard errors with the C/(C-1) correction, Student-t CIs on C-1 df, and cluster-bootstrap
percentile CIs that resample whole clusters. Paired tests, effect sizes, p-value correction and
judge agreement live in `memeval.stats.paired` and `memeval.stats.agreement`; the package
`memeval.stats` re-exports all three.

`clusters` is one label per item (str or int; anything numpy can sort), or None for independent
items. Bootstraps use a seeded `np.random.default_rng(seed)` and are vectorised over resamples:
the data are reduced once to per-cluster sums, and every resample is a row of a cluster-count
matrix multiplied into those sums (a loop runs over chunks of rows only, to bound memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as _sps

from memeval.numbers import finite_or_none, json_safe

ArrayLike = Sequence[Any] | np.ndarray
Stat = Callable[[Mapping[str, np.ndarray]], np.ndarray]

BOOTSTRAP_BELOW_CLUSTERS = 30  # the spec prefers the bootstrap CI over the t CI below this C
_CHUNK_CELLS = 1 << 22  # resample rows x clusters per chunk: ~32 MiB of int64 indices
_INVALID_MODES = ("valid", "all")


@dataclass(frozen=True)
class Summary:
    """One metric for one system. `method` reads "<estimator>(<valid|all>)/<t|bootstrap|none>":
    the estimator, how invalid verdicts were treated ("valid": excluded, "all": scored 0), and
    which CI the spec says to headline (`ci`). `seed` is None when no resampling ran."""

    n: int
    n_clusters: int
    mean: float | None
    se: float | None
    ci_t: tuple[float, float] | None
    ci_boot: tuple[float, float] | None
    df: int | None
    level: float
    method: str
    seed: int | None
    n_invalid: int = 0

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.ci_boot if self.method.endswith("/bootstrap") else self.ci_t

    def to_dict(self) -> dict[str, Any]:
        return {k: json_safe(v) for k, v in asdict(self).items()}


def _opt(x: float) -> float | None:
    return finite_or_none(x)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _floats(x: ArrayLike, name: str = "values") -> np.ndarray:
    a = np.asarray(x, dtype=float)  # None -> nan
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def _labels(clusters: ArrayLike | None, n: int) -> np.ndarray:
    if clusters is None:
        return np.arange(n)
    lab = np.asarray(clusters)
    if lab.shape != (n,):
        raise ValueError(f"clusters has shape {lab.shape}, expected ({n},) (one label per item)")
    return lab


def cluster_codes(clusters: ArrayLike | None, n: int) -> tuple[np.ndarray, int]:
    """Integer codes 0..C-1 for the items' cluster labels (None: every item its own cluster)."""
    lab = _labels(clusters, n)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    _, codes = np.unique(lab, return_inverse=True)
    codes = codes.reshape(-1)
    return codes, int(codes.max()) + 1


def _cluster_sums(x: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    out = np.zeros((n_clusters,) + x.shape[1:])
    np.add.at(out, codes, x)
    return out


def _boot_totals(per_cluster: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Column totals of `per_cluster` (C, k) over `n_boot` resamples of its C rows with
    replacement, shape (n_boot, k). A resample's totals = its cluster counts @ per-cluster sums."""
    c = per_cluster.shape[0]
    out = np.empty((n_boot, per_cluster.shape[1]))
    step = max(1, _CHUNK_CELLS // c)
    for start in range(0, n_boot, step):  # chunks of resamples, for memory only
        m = min(step, n_boot - start)
        idx = rng.integers(0, c, size=(m, c))
        counts = np.bincount((idx + c * np.arange(m)[:, None]).ravel(), minlength=m * c)
        out[start:start + m] = counts.reshape(m, c) @ per_cluster
    return out


def _percentile_summary(reps: np.ndarray, level: float) -> tuple[float, tuple[float, float]]:
    ok = reps[np.isfinite(reps)]  # e.g. a resample whose denominator sums to 0
    if ok.size < 2:
        return math.nan, (math.nan, math.nan)
    lo, hi = np.quantile(ok, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(ok.std(ddof=1)), (float(lo), float(hi))


def cluster_bootstrap(
    stat: Stat,
    arrays: Mapping[str, ArrayLike],
    clusters: ArrayLike | Mapping[str, ArrayLike] | None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, tuple[float, float]]:
    """Cluster bootstrap of any statistic that is a function of sums over items.

    Each `arrays[name]` holds one value per item, shape (n_name,) or (n_name, *shape). The
    items are summed per cluster once; each resample draws C clusters with replacement and
    `stat` receives the resampled totals as a dict name -> array of shape (B,) or (B, *shape),
    for B resamples at once, and must return an array of shape (B,) (vectorised, elementwise
    over the first axis). The point estimate is `stat` on the full-sample totals (B = 1).

    `clusters`: one label sequence shared by all arrays, or a dict name -> labels when the
    arrays cover different item sets (labels are matched across arrays, so every array is
    resampled with the same clusters: joint resampling).

    Returns (point, se, (lo, hi)): se is the SD of the replicates, (lo, hi) the percentile CI;
    nan when fewer than two clusters. Non-finite replicates are dropped.

    Example, F1 of precision (over predicted facts) and recall (over gold facts) per user::

        def f1(t):
            p = t["tp_pred"] / t["n_pred"]
            r = t["tp_gold"] / t["n_gold"]
            return 2 * p * r / (p + r)

        point, se, ci = cluster_bootstrap(
            f1,
            {"tp_pred": pred_ok, "n_pred": np.ones(len(pred_ok)),
             "tp_gold": gold_hit, "n_gold": np.ones(len(gold_hit))},
            {"tp_pred": pred_user, "n_pred": pred_user,
             "tp_gold": gold_user, "n_gold": gold_user},
            n_boot=2000, seed=0)
    """
    _check_level(level)
    names = list(arrays)
    vals = {k: np.asarray(arrays[k], dtype=float) for k in names}
    if isinstance(clusters, Mapping):
        labs = {k: _labels(clusters[k], len(vals[k])) for k in names}
        _, inv = np.unique(np.concatenate([labs[k] for k in names]), return_inverse=True)
        inv = inv.reshape(-1)
        n_clusters = int(inv.max()) + 1 if inv.size else 0
        bounds = np.cumsum([0] + [len(vals[k]) for k in names])
        codes = {k: inv[bounds[i]:bounds[i + 1]] for i, k in enumerate(names)}
    else:
        lens = {len(v) for v in vals.values()}
        if len(lens) > 1:
            raise ValueError("arrays differ in length; give clusters as a dict per array")
        shared, n_clusters = cluster_codes(clusters, lens.pop() if lens else 0)
        codes = {k: shared for k in names}
    per = {k: _cluster_sums(vals[k], codes[k], n_clusters) for k in names}
    with np.errstate(divide="ignore", invalid="ignore"):
        point = float(np.asarray(stat({k: v.sum(axis=0)[None] for k, v in per.items()}))[0])
        if n_clusters < 2 or n_boot < 1:
            return point, math.nan, (math.nan, math.nan)
        # One matrix for all arrays, so one cluster draw serves them all (joint resampling).
        flat = np.hstack([per[k].reshape(n_clusters, -1) for k in names])
        tot = _boot_totals(flat, n_boot, np.random.default_rng(seed))
        split, col = {}, 0
        for k in names:
            width = int(np.prod(per[k].shape[1:], dtype=int))
            split[k] = tot[:, col:col + width].reshape((n_boot,) + per[k].shape[1:])
            col += width
        reps = np.asarray(stat(split), dtype=float).reshape(-1)
    se, ci = _percentile_summary(reps, level)
    return point, se, ci


def clustered_se(values: ArrayLike, clusters: ArrayLike | None) -> float:
    """Liang-Zeger SE of the mean with the C/(C-1) finite-cluster correction:
    sqrt(C/(C-1) * sum_c (sum_{i in c} (s_i - mean))^2) / n. nan when C < 2 (undefined)."""
    v = _floats(values)
    codes, c = cluster_codes(clusters, len(v))
    if c < 2:
        return math.nan
    dev = np.bincount(codes, weights=v - v.mean(), minlength=c)
    return float(math.sqrt(c / (c - 1) * float(dev @ dev)) / len(v))


def clustered_ratio_se(num: ArrayLike, den: ArrayLike, clusters: ArrayLike | None) -> float:
    """Linearised (delta-method) clustered SE of R = sum(num)/sum(den), same correction:
    sqrt(C/(C-1) * sum_c (sum_{i in c} (num_i - R den_i))^2) / sum(den). Equals the clustered
    SE of a weighted mean (WLS intercept); reduces to `clustered_se` when den == 1."""
    x, w = _floats(num, "num"), _floats(den, "den")
    codes, c = cluster_codes(clusters, len(x))
    if c < 2 or w.sum() == 0:
        return math.nan
    ratio = x.sum() / w.sum()
    dev = np.bincount(codes, weights=x - ratio * w, minlength=c)
    return float(math.sqrt(c / (c - 1) * float(dev @ dev)) / w.sum())


def design_effect(values: ArrayLike, clusters: ArrayLike | None) -> float:
    """Variance inflation from clustering: clustered SE^2 over the iid SE^2 (sample SD/sqrt n)."""
    v = _floats(values)
    naive_var = v.var(ddof=1) / len(v) if len(v) > 1 else math.nan
    return clustered_se(v, clusters) ** 2 / naive_var if naive_var > 0 else math.nan


def _finish(estimator: str, invalid: str, n: int, c: int, n_invalid: int, point: float,
            se: float, boot: tuple[float, tuple[float, float]] | None, level: float,
            seed: int, boot_primary: bool) -> Summary:
    primary = "none" if c < 2 else ("bootstrap" if boot_primary and boot is not None else "t")
    method = f"{estimator}({invalid})/{primary}"
    if n == 0 or not math.isfinite(point):
        return Summary(n, c, None, None, None, None, None, level, method, None, n_invalid)
    if c < 2 or not math.isfinite(se):
        return Summary(n, c, float(point), None, None, None, None, level, method, None, n_invalid)
    half = float(_sps.t.ppf((1.0 + level) / 2.0, c - 1)) * se
    ci_boot = None
    if boot is not None and math.isfinite(boot[1][0]):
        ci_boot = boot[1]
    return Summary(n, c, float(point), float(se), (point - half, point + half), ci_boot, c - 1,
                   level, method, seed if boot is not None else None, n_invalid)


def summarize(values: ArrayLike, clusters: ArrayLike | None, *, level: float = 0.95,
              n_boot: int = 2000, seed: int = 0, invalid: str = "valid") -> Summary:
    """Mean with clustered SE, t CI on C-1 df and cluster-bootstrap percentile CI.

    None/NaN values are invalid verdicts: counted in `n_invalid`, and either excluded
    (invalid="valid") or scored 0 (invalid="all"). Empty input gives n=0 and None estimates."""
    _check_level(level)
    if invalid not in _INVALID_MODES:
        raise ValueError(f"invalid must be one of {_INVALID_MODES}, got {invalid!r}")
    v = _floats(values)
    lab = _labels(clusters, len(v))
    bad = ~np.isfinite(v)
    if invalid == "all":
        v = np.where(bad, 0.0, v)
    else:
        v, lab = v[~bad], lab[~bad]
    codes, c = cluster_codes(lab, len(v))
    point = float(v.mean()) if len(v) else math.nan
    se = clustered_se(v, codes) if len(v) else math.nan
    boot = None
    if c >= 2 and n_boot > 0:
        _, bse, bci = cluster_bootstrap(lambda t: t["s"] / t["n"], {"s": v, "n": np.ones(len(v))},
                                        codes, n_boot=n_boot, seed=seed, level=level)
        boot = (bse, bci)
    return _finish("mean", invalid, len(v), c, int(bad.sum()), point, se, boot, level, seed,
                   c < BOOTSTRAP_BELOW_CLUSTERS)


def summarize_ratio(num: ArrayLike, den: ArrayLike, clusters: ArrayLike | None, *,
                    level: float = 0.95, n_boot: int = 2000, seed: int = 0,
                    invalid: str = "valid") -> Summary:
    """Ratio-of-sums metric R = sum(num)/sum(den), e.g. weighted recall
    sum(importance * s)/sum(importance). `se` and `ci_boot` come from the cluster bootstrap of
    R itself (never an average of per-cluster ratios); `ci_t` is R +- t(C-1) * se (with n_boot=0,
    se is `clustered_ratio_se` and there is no bootstrap CI). The bootstrap
    SE runs about sqrt((C-1)/C) below `clustered_ratio_se`, which carries the C/(C-1) factor.

    Items with a non-finite den are dropped; a non-finite num is dropped (invalid="valid") or
    scored 0 (invalid="all"). Either way the item is counted in `n_invalid`."""
    _check_level(level)
    if invalid not in _INVALID_MODES:
        raise ValueError(f"invalid must be one of {_INVALID_MODES}, got {invalid!r}")
    x, w = _floats(num, "num"), _floats(den, "den")
    if len(x) != len(w):
        raise ValueError("num and den differ in length")
    lab = _labels(clusters, len(x))
    bad_x, bad_w = ~np.isfinite(x), ~np.isfinite(w)
    keep = ~bad_w if invalid == "all" else ~(bad_x | bad_w)
    x = np.where(bad_x, 0.0, x)[keep]
    w, lab = w[keep], lab[keep]
    codes, c = cluster_codes(lab, len(x))
    point = float(x.sum() / w.sum()) if len(x) and w.sum() != 0 else math.nan
    se, boot = math.nan, None
    if c >= 2 and n_boot < 1:  # no resampling asked for: fall back to the linearised SE
        se = clustered_ratio_se(x, w, codes)
    elif c >= 2 and math.isfinite(point):
        _, se, bci = cluster_bootstrap(lambda t: t["num"] / t["den"], {"num": x, "den": w},
                                       codes, n_boot=n_boot, seed=seed, level=level)
        boot = (se, bci)
    return _finish("ratio", invalid, len(x), c, int((bad_x | bad_w).sum()), point, se, boot,
                   level, seed, True)
