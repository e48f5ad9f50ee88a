"""Densing-law fits (memeval.metrics.densing) on synthetic constants: exact round trips, the
out-of-range rules, CI coverage in seeded repetitions, and the trend's doubling time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memeval.metrics.densing import (LossLaw, OutOfRange, Sigmoid, effective_size, fit_loss_law,
                                     fit_sigmoid, fit_trend, frontier)

LAW = LossLaw(a=400.0, alpha=0.34, b=410.0, beta=0.28)
SIG = Sigmoid(c=0.7, gamma=-4.0, l=1.0, d=0.25)
D0 = 1e12


@pytest.mark.parametrize("n", [1e7, 3e7, 1e8, 4e8, 1e9])
def test_round_trip_recovers_n(n: float) -> None:
    score = float(SIG(LAW(n, D0)))
    loss, n_hat = effective_size(score, SIG, LAW, D0)
    assert loss == pytest.approx(float(LAW(n, D0)), rel=1e-9)
    assert n_hat == pytest.approx(n, rel=1e-6)


def test_out_of_range_never_gives_a_number() -> None:
    for score in (SIG.d, SIG.d - 0.1, SIG.c + SIG.d, SIG.c + SIG.d + 0.01):
        with pytest.raises(OutOfRange, match="asymptote"):
            effective_size(score, SIG, LAW, D0)
    below = float(SIG(LAW.floor(D0) - 0.01))  # a loss below the irreducible term
    with pytest.raises(OutOfRange, match="irreducible"):
        effective_size(below, SIG, LAW, D0)


def _design() -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([5e6, 3e7, 1e8, 2.5e8, 5e8, 8e8])  # the paper's family, roughly
    mult = np.array([10, 20, 40, 60])
    n, k = np.meshgrid(sizes, mult)
    return n.ravel(), (n * k).ravel()


def test_loss_law_ci_coverage() -> None:
    n, d = _design()
    truth = np.array([LAW.a, LAW.alpha, LAW.b, LAW.beta])
    covered = np.zeros(4)
    reps = 60
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        fit = fit_loss_law(n, d, LAW(n, d) + rng.normal(0, 0.005, n.size))
        ci = np.array([fit.ci[k] for k in ("a", "alpha", "b", "beta")], dtype=float)
        covered += (ci[:, 0] <= truth) & (truth <= ci[:, 1])
        assert fit.r2 > 0.99
    assert (covered / reps >= 0.9).all(), covered / reps


def test_sigmoid_ci_coverage() -> None:
    losses = np.linspace(0.3, 2.2, 14)
    truth = np.array([SIG.c, SIG.gamma, SIG.l, SIG.d])
    covered = np.zeros(4)
    reps = 60
    for seed in range(reps):
        rng = np.random.default_rng(100 + seed)
        fit = fit_sigmoid(losses, SIG(losses) + rng.normal(0, 0.01, losses.size))
        ci = np.array([fit.ci[k] for k in ("c", "gamma", "l", "d")], dtype=float)
        covered += (ci[:, 0] <= truth) & (truth <= ci[:, 1])
    assert (covered / reps >= 0.9).all(), covered / reps


def test_trend_doubling_time() -> None:
    a = math.log(2) / 95  # a 95-day doubling
    hits = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        days = np.sort(rng.uniform(0, 730, 25))
        tr = fit_trend(days, np.exp(a * days - 3 + rng.normal(0, 0.05, days.size)))
        assert tr.doubling_days == pytest.approx(95, rel=0.05)
        hits += tr.doubling_ci[0] <= 95 <= tr.doubling_ci[1]
    assert hits >= 90
    # the paper's printed slope, A ~ 0.007 per day: ln 2 / 0.007 = 99.0 days, not the 95 days
    # (A = 0.0073) or "about three months" it also states
    exact = fit_trend([0, 100, 200, 300], np.exp(0.007 * np.array([0, 100, 200, 300])))
    assert exact.doubling_days == pytest.approx(99.02, abs=0.01)
    flat = fit_trend([0, 100, 200, 300], [1.0, 0.9, 1.1, 1.0])
    assert flat.doubling_ci is None or flat.doubling_ci[1] == math.inf


def test_frontier_keeps_running_best() -> None:
    assert frontier([0, 10, 20, 30, 40], [1.0, 0.5, 2.0, 1.5, 3.0]) == [0, 2, 4]
