"""Densing law (Xiao et al. 2024, arXiv 2412.04315): capacity density from a reference family.

Two fitted steps map a downstream score to an effective parameter count:
    loss law     L(N, D) = a N^-alpha + b D^-beta       (conditional loss of the test items)
    performance  S(L) = c / (1 + exp(-gamma (L - l))) + d
A target with score S has L_hat = l - ln(c / (S - d) - 1) / gamma and
N_hat = ((L_hat - b D0^-beta) / a)^(-1/alpha), D0 the token budget the target is credited with
(paper: 1T). Density rho = N_hat / N. Outside d < S < c + d, or where L_hat is at or below the
irreducible term b D0^-beta, there is no effective size: `OutOfRange` says why, and no number
is ever returned. The trend ln(rho_max) = A t + B over release dates gives the doubling time
ln 2 / A.

The paper publishes neither code nor fitted constants; these fits use scipy's bounded least
squares with several starts, and report residuals, R^2 and asymptotic standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats


class OutOfRange(ValueError):
    """No effective size exists for this score; the message is the reason."""


@dataclass(frozen=True)
class LossLaw:
    a: float
    alpha: float
    b: float
    beta: float

    def __call__(self, n: float | np.ndarray, d: float | np.ndarray) -> float | np.ndarray:
        return self.a * np.power(n, -self.alpha) + self.b * np.power(d, -self.beta)

    def floor(self, d0: float) -> float:
        """The loss an infinitely large model reaches on d0 tokens: b d0^-beta."""
        return float(self.b * d0 ** -self.beta)

    def size_for(self, loss: float, d0: float) -> float:
        floor = self.floor(d0)
        if not loss > floor:
            raise OutOfRange(f"loss {loss:.6g} is not above the irreducible term "
                             f"b D0^-beta = {floor:.6g}: no model size reaches it")
        return float(((loss - floor) / self.a) ** (-1 / self.alpha))


@dataclass(frozen=True)
class Sigmoid:
    c: float
    gamma: float
    l: float  # noqa: E741  (the paper's name)
    d: float

    def __call__(self, loss: float | np.ndarray) -> float | np.ndarray:
        return self.c / (1 + np.exp(-self.gamma * (np.asarray(loss) - self.l))) + self.d

    def loss_for(self, score: float) -> float:
        lo, hi = sorted((self.d, self.c + self.d))
        if not lo < score < hi:
            raise OutOfRange(f"score {score:.6g} is outside the sigmoid's range ({lo:.6g}, "
                             f"{hi:.6g}): at or beyond an asymptote no loss maps to it")
        return float(self.l - math.log(self.c / (score - self.d) - 1) / self.gamma)


@dataclass(frozen=True)
class Fit:
    """A fitted law with its diagnostics: residuals, R^2, asymptotic SEs of the parameters
    (from the Jacobian at the optimum) and their t-based 95% CIs (residual dof)."""

    law: LossLaw | Sigmoid
    residuals: list[float]
    r2: float
    se: dict[str, float | None] = field(default_factory=dict)
    dof: int = 0

    @property
    def ci(self) -> dict[str, tuple[float, float] | None]:
        q = float(stats.t.ppf(0.975, self.dof)) if self.dof > 0 else math.nan
        out: dict[str, tuple[float, float] | None] = {}
        for name, se in self.se.items():
            v = float(getattr(self.law, name))
            out[name] = None if se is None else (v - q * se, v + q * se)
        return out


def _fit(fun, starts: Sequence[Sequence[float]], bounds, names: Sequence[str], y: np.ndarray,
         make) -> Fit:
    best = None
    for x0 in starts:
        try:
            # tight tolerances: at scipy's defaults (1e-8) the shallow valleys leave ~1e-6
            # relative slack in alpha, so the same points summed in another order fit apart
            res = optimize.least_squares(fun, x0, bounds=bounds, method="trf", x_scale="jac",
                                         ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=20000)
        except ValueError:
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        raise ValueError("no start converged")
    resid = best.fun
    dof = max(0, len(y) - len(best.x))
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    se: dict[str, float | None] = {n: None for n in names}
    if dof > 0:
        s2 = float((resid ** 2).sum()) / dof
        try:
            cov = np.linalg.inv(best.jac.T @ best.jac) * s2
            se = {n: float(math.sqrt(v)) if v >= 0 else None for n, v in zip(names, np.diag(cov))}
        except np.linalg.LinAlgError:
            pass
    return Fit(make(best.x), [float(r) for r in resid], r2, se, dof)


def fit_loss_law(n: Sequence[float], d: Sequence[float], loss: Sequence[float]) -> Fit:
    """L(N, D) = a N^-alpha + b D^-beta by bounded least squares on the losses (several starts:
    the surface has shallow valleys). Needs at least two D per N to separate the terms."""
    N, D, L = (np.asarray(x, dtype=np.float64) for x in (n, d, loss))
    if len(L) < 5:
        raise ValueError(f"a loss law has 4 parameters: need at least 5 points, got {len(L)}")

    def fun(x):
        return x[0] * N ** -x[1] + x[2] * D ** -x[3] - L

    starts = [(L.max() * N.min() ** al, al, L.max() * D.min() ** be, be)
              for al in (0.1, 0.3, 0.7) for be in (0.1, 0.3, 0.7)]
    bounds = ([0, 1e-3, 0, 1e-3], [np.inf, 3, np.inf, 3])
    return _fit(fun, starts, bounds, ("a", "alpha", "b", "beta"), L, lambda x: LossLaw(*x))


def fit_sigmoid(loss: Sequence[float], score: Sequence[float]) -> Fit:
    """S = c / (1 + exp(-gamma (L - l))) + d; gamma < 0 (scores fall as losses rise)."""
    L, S = np.asarray(loss, dtype=np.float64), np.asarray(score, dtype=np.float64)
    if len(S) < 5:
        raise ValueError(f"a sigmoid has 4 parameters: need at least 5 points, got {len(S)}")
    span = float(np.ptp(L)) or 1.0

    def fun(x):
        return x[0] / (1 + np.exp(-x[1] * (L - x[2]))) + x[3] - S

    starts = [(max(S.max() - S.min(), 1e-3), -g / span, float(np.median(L)), S.min())
              for g in (1.0, 4.0, 16.0)]
    bounds = ([1e-6, -1e4, L.min() - 10 * span, -1.0], [2.0, -1e-6, L.max() + 10 * span, 1.0])
    return _fit(fun, starts, bounds, ("c", "gamma", "l", "d"), S, lambda x: Sigmoid(*x))


def effective_size(score: float, sigmoid: Sigmoid, law: LossLaw, d0: float) -> tuple[float, float]:
    """(L_hat, N_hat) for a score; OutOfRange with the reason where none exists."""
    loss = sigmoid.loss_for(score)
    return loss, law.size_for(loss, d0)


@dataclass(frozen=True)
class Trend:
    slope_per_day: float  # A
    intercept: float  # B (t in days since `origin`)
    se_slope: float | None
    doubling_days: float | None  # ln 2 / A; None where A <= 0 (no doubling)
    doubling_ci: tuple[float, float] | None  # from A's t-CI; an upper end of inf: A may be 0
    n: int
    origin: str


def fit_trend(days: Sequence[float], density: Sequence[float], origin: str = "",
              level: float = 0.95) -> Trend:
    """ln(rho) = A t + B by least squares (pass the frontier: each date's best density)."""
    t, y = np.asarray(days, dtype=np.float64), np.log(np.asarray(density, dtype=np.float64))
    if len(t) < 3 or np.ptp(t) == 0:
        raise ValueError("a trend needs at least 3 models on at least 2 dates")
    res = stats.linregress(t, y)
    a, se = float(res.slope), float(res.stderr)
    q = float(stats.t.ppf(0.5 + level / 2, len(t) - 2))
    lo, hi = a - q * se, a + q * se
    doubling = math.log(2) / a if a > 0 else None
    ci = None
    if lo > 0:
        ci = (math.log(2) / hi, math.log(2) / lo)
    elif hi > 0:
        ci = (math.log(2) / hi, math.inf)
    return Trend(a, float(res.intercept), se, doubling, ci, len(t), origin)


def frontier(days: Sequence[float], density: Sequence[float]) -> list[int]:
    """Indices of models that beat every earlier one (rho_max over time), in date order."""
    order = sorted(range(len(days)), key=lambda i: (days[i], -density[i]))
    best, keep = -math.inf, []
    for i in order:
        if density[i] > best:
            keep.append(i)
            best = density[i]
    return keep
