"""Judge agreement (spec: specs/statistics.md): Cohen's kappa for two raters, Krippendorff's alpha
for more, with cluster-bootstrap CIs. Ratings are raters x items."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memeval.stats.clustered import ArrayLike, _labels, _opt, cluster_bootstrap

_SCALES = ("nominal", "ordinal", "interval", "ratio")


def _encode(ratings: Any) -> tuple[np.ndarray, np.ndarray]:
    """Category codes (raters x items, -1 = missing) and the sorted categories. Numbers use NaN
    for missing; labels (str) may use None."""
    try:
        r = np.asarray(ratings, dtype=float)
        miss = np.isnan(r)
    except (TypeError, ValueError):
        r = np.asarray(ratings, dtype=object)
        miss = np.vectorize(lambda v: v is None or (isinstance(v, float) and math.isnan(v)),
                            otypes=[bool])(r) if r.size else np.zeros(r.shape, bool)
    if r.ndim != 2:
        raise ValueError(f"ratings must be 2-D (raters x items), got shape {r.shape}")
    cats, inv = np.unique(r[~miss], return_inverse=True)
    codes = np.full(r.shape, -1, dtype=np.int64)
    codes[~miss] = inv.reshape(-1)
    return codes, cats


def _kappa_tables(codes: np.ndarray, k: int) -> np.ndarray:
    """Per-item K x K one-hot confusion cells for items both raters labelled."""
    if codes.shape[0] != 2:
        raise ValueError("Cohen's kappa needs exactly two raters")
    c1, c2 = codes[:, (codes >= 0).all(axis=0)]
    t = np.zeros((len(c1), k, k))
    t[np.arange(len(c1)), c1, c2] = 1.0
    return t


def _kappa(t: np.ndarray) -> np.ndarray:
    """Cohen's kappa from confusion tables (..., K, K), vectorised over leading axes."""
    n = t.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        po = np.trace(t, axis1=-2, axis2=-1) / n
        pe = (t.sum(axis=-1) * t.sum(axis=-2)).sum(axis=-1) / n ** 2
        return np.where(np.isclose(pe, 1.0), np.nan, (po - pe) / (1.0 - pe))


def _coincidences(codes: np.ndarray, k: int) -> np.ndarray:
    """Per-unit Krippendorff coincidence matrices (pairable units only): each ordered pair of
    values from different coders in a unit with m values adds 1/(m-1)."""
    v = np.stack([(codes == j).sum(axis=0) for j in range(k)], axis=1).astype(float)  # unit x cat
    m = v.sum(axis=1)
    v, m = v[m >= 2], m[m >= 2]
    o = v[:, :, None] * v[:, None, :] - np.eye(k)[None] * v[:, :, None]
    return o / (m - 1.0)[:, None, None]


def _alpha(o: np.ndarray, cats: np.ndarray, scale: str) -> np.ndarray:
    """Krippendorff's alpha = 1 - (n-1) sum o_ck d_ck / sum n_c n_k d_ck, from coincidence
    matrices (..., K, K), vectorised over leading axes."""
    nc = o.sum(axis=-1)
    n = nc.sum(axis=-1)
    k = o.shape[-1]
    if scale == "nominal":
        delta = 1.0 - np.eye(k)
    elif scale == "ordinal":  # depends on the marginals, hence per resample
        cum = np.cumsum(nc, axis=-1)
        i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        between = cum[..., hi] - cum[..., lo] + nc[..., lo]
        delta = (between - (nc[..., i] + nc[..., j]) / 2.0) ** 2
    else:
        x = cats.astype(float)
        diff = x[:, None] - x[None, :]
        if scale == "interval":
            delta = diff ** 2
        else:
            tot = x[:, None] + x[None, :]
            delta = np.divide(diff, tot, out=np.zeros_like(diff), where=tot != 0) ** 2
    d_o = (o * delta).sum(axis=(-2, -1))
    d_e = (nc[..., :, None] * nc[..., None, :] * delta).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d_e > 0, 1.0 - (n - 1.0) * d_o / d_e, np.nan)


def cohens_kappa(r1: ArrayLike, r2: ArrayLike) -> float:
    """Cohen's kappa of two raters over the items both labelled; nan when chance agreement is 1."""
    codes, cats = _encode([list(r1), list(r2)])
    t = _kappa_tables(codes, len(cats))
    return float(_kappa(t.sum(axis=0))) if len(t) else math.nan


def krippendorff_alpha(ratings: Any, level: str = "nominal") -> float:
    """Krippendorff's alpha for raters x items with NaN (or None) for missing; `level` is the
    measurement scale: nominal, ordinal, interval or ratio. nan when there is no variation."""
    if level not in _SCALES:
        raise ValueError(f"level must be one of {_SCALES}, got {level!r}")
    codes, cats = _encode(ratings)
    o = _coincidences(codes, len(cats))
    return float(_alpha(o.sum(axis=0), cats, level)) if len(o) else math.nan


def agreement_ci(ratings: Any, *, measure: str = "alpha", scale: str = "nominal",
                 clusters: ArrayLike | None = None, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> dict[str, Any]:
    """Bootstrap CI for Cohen's kappa (measure="kappa", two raters) or Krippendorff's alpha
    (measure="alpha", `scale` as in `krippendorff_alpha`) over items (raters x items input).
    Items are resampled whole (with their clusters, when given); both measures are functions of
    summed per-item tables, so resamples are vectorised like `cluster_bootstrap`. Items that
    cannot contribute (a missing kappa rating, fewer than two alpha values) are dropped first.
    Undefined values (no variation, fewer than two clusters) are None."""
    if measure not in ("kappa", "alpha") or scale not in _SCALES:
        raise ValueError(f"measure must be kappa|alpha and scale one of {_SCALES}")
    codes, cats = _encode(ratings)
    lab = _labels(clusters, codes.shape[1])
    if measure == "kappa":
        tables = _kappa_tables(codes, len(cats))
        lab = lab[(codes >= 0).all(axis=0)]

        def stat(t: dict[str, np.ndarray]) -> np.ndarray:
            return _kappa(t["x"])
    else:
        tables = _coincidences(codes, len(cats))
        lab = lab[(codes >= 0).sum(axis=0) >= 2]

        def stat(t: dict[str, np.ndarray]) -> np.ndarray:
            return _alpha(t["x"], cats, scale)
    point, se, ci = cluster_bootstrap(stat, {"x": tables}, lab, n_boot=n_boot, seed=seed,
                                      level=level)
    ok = math.isfinite(ci[0])
    return {"measure": measure, "scale": scale, "estimate": _opt(point), "se": _opt(se),
            "ci": ci if ok else None,
            "n_items": len(tables), "n_clusters": len(np.unique(lab)), "n_boot": n_boot,
            "seed": seed, "level": level}
