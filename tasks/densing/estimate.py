"""The two-step densing estimate from per-item records, and its bootstrap over people.

Per model: L = mean conditional loss of its items, S = their multiple-choice accuracy. The
loss law is fitted on the reference family's (N, D, L), the sigmoid on its (L, S); the target's
S is inverted through both. The bootstrap resamples people (a person's items together, since
they share one biography) and reruns the whole pipeline, fits included, per replicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memeval.metrics.densing import (Fit, OutOfRange, effective_size, fit_loss_law,
                                     fit_sigmoid)


@dataclass
class ModelItems:
    """One model's per-item results, aligned with `people` (the cluster of each item)."""

    config: str
    n: float  # parameters
    d: float  # training tokens (reference) or the budget credited (target)
    people: np.ndarray
    loss: np.ndarray
    correct: np.ndarray
    fixed: tuple[float, float] | None = None  # published (loss, score): no items to resample

    def point(self, mask: np.ndarray | None = None) -> tuple[float, float]:
        if self.fixed is not None:
            return self.fixed
        w = np.ones_like(self.loss) if mask is None else mask
        return float((self.loss * w).sum() / w.sum()), float((self.correct * w).sum() / w.sum())


def _weights(people: np.ndarray, draw: dict[int, int]) -> np.ndarray:
    return np.array([draw.get(int(p), 0) for p in people], dtype=np.float64)


def fit_family(ref: Sequence[ModelItems], weights: Sequence[np.ndarray] | None = None) \
        -> tuple[Fit, Fit, list[tuple[float, float]]]:
    pts = [m.point(None if weights is None else weights[i]) for i, m in enumerate(ref)]
    law = fit_loss_law([m.n for m in ref], [m.d for m in ref], [p[0] for p in pts])
    sig = fit_sigmoid([p[0] for p in pts], [p[1] for p in pts])
    return law, sig, pts


def estimate(ref: Sequence[ModelItems], target: ModelItems, d0: float, reps: int = 200,
             seed: int = 0) -> dict[str, Any]:
    law, sig, pts = fit_family(ref)
    loss_t, score_t = target.point()
    out: dict[str, Any] = {"target_loss": loss_t, "target_score": score_t, "d0": d0,
                           "target_params": target.n}
    try:
        l_hat, n_hat = effective_size(score_t, sig.law, law.law, d0)
        out.update(in_range=True, loss_hat=l_hat, n_hat=n_hat, density=n_hat / target.n)
    except OutOfRange as e:
        out.update(in_range=False, reason=str(e), loss_hat=None, n_hat=None, density=None)
    people = np.unique(np.concatenate([m.people for m in [*ref, target]]).astype(np.int64))
    rng = np.random.default_rng(seed)
    boots, reasons, failed = [], 0, 0
    params: dict[str, list[float]] = {}
    for _ in range(reps):
        counts = np.bincount(rng.integers(0, len(people), len(people)), minlength=len(people))
        draw = {int(p): int(c) for p, c in zip(people, counts) if c}
        try:
            lw, sg, _ = fit_family(ref, [_weights(m.people, draw) for m in ref])
        except ValueError:
            failed += 1
            continue
        for name, fit in (("loss_law", lw), ("sigmoid", sg)):
            for k in fit.se:
                params.setdefault(f"{name}.{k}", []).append(float(getattr(fit.law, k)))
        s_t = target.point(_weights(target.people, draw))[1]
        try:
            boots.append(effective_size(s_t, sg.law, lw.law, d0)[1])
        except OutOfRange:
            reasons += 1
    out["bootstrap"] = {"reps": reps, "in_range": len(boots), "out_of_range": reasons,
                        "fit_failed": failed, "seed": seed}
    if out["in_range"] and len(boots) >= 0.9 * reps:
        lo, hi = np.quantile(boots, [0.025, 0.975])
        out["n_hat_ci"] = (float(lo), float(hi))
        out["density_ci"] = (float(lo) / target.n, float(hi) / target.n)
    elif out["in_range"]:
        out["n_hat_ci"] = out["density_ci"] = None
        out["ci_reason"] = (f"only {len(boots)} of {reps} replicates have an effective size: "
                            "no CI")
    out["fits"] = {"loss_law": _fit_dict(law), "sigmoid": _fit_dict(sig)}
    for name, values in params.items():  # SEs by bootstrap over people, beside the asymptotic
        fit, k = name.split(".")
        out["fits"][fit].setdefault("se_bootstrap", {})[k] = float(np.std(values, ddof=1)) \
            if len(values) > 1 else None
    out["family"] = [{"config": m.config, "params": m.n, "tokens": m.d, "loss": p[0],
                      "score": p[1]} for m, p in zip(ref, pts)]
    return out


def _fit_dict(fit: Fit) -> dict[str, Any]:
    params = {k: float(getattr(fit.law, k)) for k in fit.se}
    return {"params": params, "se": fit.se, "ci": fit.ci, "r2": fit.r2,
            "residuals": fit.residuals, "dof": fit.dof}
