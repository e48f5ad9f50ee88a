"""Information capacity from per-text records: the averaging rules, bootstrap CIs over texts,
and the flatness of a series (IC against log2 FLOPs).

A record holds the raw sums of one text (predicted tokens, bytes, summed NLL bits), so each
rule is re-derived from predictions.jsonl:
- "reference" (default, the paper's scripts): text bits per token averaged over texts, NLL
  bits per token pooled over all predicted tokens;
- "pooled": both pooled over tokens (total bits / total tokens);
- "samples": both averaged over texts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from memeval.metrics.infocap import information_capacity

AVERAGING = ("reference", "pooled", "samples")


@dataclass(frozen=True)
class TextRecord:
    tokens: int
    text_bytes: int
    nll_bits: float


def _rates(recs: Sequence[TextRecord], idx: np.ndarray, averaging: str) -> tuple[float, float]:
    tok = np.array([recs[i].tokens for i in idx], dtype=np.float64)
    byt = np.array([recs[i].text_bytes for i in idx], dtype=np.float64)
    nll = np.array([recs[i].nll_bits for i in idx], dtype=np.float64)
    pooled_text, pooled_nll = 8 * byt.sum() / tok.sum(), nll.sum() / tok.sum()
    mean_text, mean_nll = float(np.mean(8 * byt / tok)), float(np.mean(nll / tok))
    if averaging == "reference":
        return mean_text, pooled_nll
    if averaging == "pooled":
        return float(pooled_text), float(pooled_nll)
    return mean_text, mean_nll


def rates(recs: Sequence[TextRecord], averaging: str = "reference") -> tuple[float, float]:
    """(text bits per token, NLL bits per token) under an averaging rule."""
    live = [r for r in recs if r.tokens > 0]
    if not live:
        raise ValueError("no text with a predicted token")
    return _rates(live, np.arange(len(live)), averaging)


@dataclass(frozen=True)
class ICEstimate:
    ic: float
    text_bits: float
    nll_bits: float
    ci: tuple[float, float] | None
    se: float | None
    n: int
    reps: int


def estimate(recs: Sequence[TextRecord], flops: float, bias: float, averaging: str = "reference",
             reps: int = 2000, seed: int = 0, level: float = 0.95) -> ICEstimate:
    """IC with a percentile bootstrap CI over texts (each text resampled whole: its tokens are
    not independent). Fewer than 2 texts: no CI."""
    live = [r for r in recs if r.tokens > 0]
    text, nll = rates(live, averaging)
    ic = information_capacity(text, nll, flops, bias)
    if len(live) < 2:
        return ICEstimate(ic, text, nll, None, None, len(live), 0)
    rng = np.random.default_rng(seed)
    log_f = math.log2(flops)
    boots = np.empty(reps)
    for b in range(reps):
        t, n = _rates(live, rng.integers(0, len(live), len(live)), averaging)
        boots[b] = (t - n + bias) / log_f
    a = (1 - level) / 2
    lo, hi = np.quantile(boots, [a, 1 - a])
    return ICEstimate(ic, text, nll, (float(lo), float(hi)), float(boots.std(ddof=1)),
                      len(live), reps)


def flatness(points: Sequence[tuple[float, float]]) -> dict[str, float | int | None]:
    """Least-squares slope of IC on log2 FLOPs (IC per doubling of compute), and the spread
    (max - min, SD) of IC within a series: the paper's claim is that both are small."""
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    out: dict[str, float | int | None] = {"models": len(points), "slope": None,
                                          "spread": None, "sd": None}
    if len(points) >= 1:
        out["spread"] = float(ys.max() - ys.min())
    if len(points) >= 2:
        out["sd"] = float(ys.std(ddof=1))
        if np.ptp(xs) > 0:
            out["slope"] = float(np.polyfit(xs, ys, 1)[0])
    return out
