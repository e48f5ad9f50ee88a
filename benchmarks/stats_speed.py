"""Speed of the paired cluster bootstrap (spec: 10,000 resamples over 3,500 items in 20 clusters
must take well under a second).

Compares `memeval.stats.paired_bootstrap_diff` (vectorised) with a per-resample Python loop doing
the same computation on the same random draws, and checks the two agree.

    python benchmarks/stats_speed.py [--items 3500] [--clusters 20] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from memeval.stats import paired_bootstrap_diff


def loop_paired_bootstrap(a: np.ndarray, b: np.ndarray, labels: np.ndarray, n_boot: int,
                          seed: int, level: float = 0.95) -> dict[str, object]:
    """The naive version: one Python iteration per resample, gathering the items of the drawn
    clusters. Draws clusters in the same order as the vectorised code (sorted labels, one row of
    `integers(0, C, C)` per resample), so results should match to rounding."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(labels)
    members = [np.flatnonzero(labels == u) for u in uniq]
    reps = np.empty(n_boot)
    for r in range(n_boot):
        pick = rng.integers(0, len(uniq), size=len(uniq))
        idx = np.concatenate([members[i] for i in pick])
        reps[r] = a[idx].mean() - b[idx].mean()
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return {"diff": float(a.mean() - b.mean()), "se": float(reps.std(ddof=1)),
            "ci": (float(lo), float(hi))}


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=3500)
    ap.add_argument("--clusters", type=int, default=20)
    ap.add_argument("--resamples", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(12345)
    labels = np.array([f"user{c:02d}" for c in rng.integers(0, args.clusters, args.items)])
    a = (rng.random(args.items) < 0.62).astype(float)  # system A correct / incorrect
    b = np.where(rng.random(args.items) < 0.8, a, 1.0 - a)  # B agrees with A on ~80% of items

    t_vec, vec = best_of(lambda: paired_bootstrap_diff(a, b, labels, n_boot=args.resamples,
                                                       seed=args.seed), repeats=5)
    t_loop, loop = best_of(lambda: loop_paired_bootstrap(a, b, labels, args.resamples,
                                                         args.seed), repeats=1)
    print(f"{args.resamples} paired cluster-bootstrap resamples, {args.items} items, "
          f"{len(np.unique(labels))} clusters")
    print(f"  vectorised paired_bootstrap_diff: {t_vec * 1e3:9.1f} ms (best of 5, incl. setup)")
    print(f"  per-resample Python loop:         {t_loop * 1e3:9.1f} ms")
    print(f"  speed-up: {t_loop / t_vec:.0f}x")
    print(f"  diff {vec['diff']:+.5f}  se {vec['se']:.6f} vs {loop['se']:.6f}  "
          f"ci ({vec['ci'][0]:+.5f}, {vec['ci'][1]:+.5f}) vs "
          f"({loop['ci'][0]:+.5f}, {loop['ci'][1]:+.5f})")
    same = np.allclose([vec["se"], *vec["ci"]], [loop["se"], *loop["ci"]], rtol=1e-9, atol=1e-12)
    print(f"  identical draws agree: {same}")


if __name__ == "__main__":
    main()
