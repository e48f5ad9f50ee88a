"""Accuracy vs exposures and vs retention steps, from the aggregated `<kind>@<checkpoint>` cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from memeval.contracts import MetricEntry

matplotlib.use("Agg")  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402

SERIES = {"recognition": "recognition ({kind} foils)", "recall_exact": "recall exact ({kind})",
          "recall_rouge_l": "recall ROUGE-L ({kind})"}


def _series(metrics: dict[str, MetricEntry], phase: str
            ) -> dict[str, list[tuple[int, float, Any]]]:
    """label -> [(x, mean, ci)] for checkpoints of one phase ("E" or "R")."""
    out: dict[str, list[tuple[int, float, Any]]] = {}
    for metric, label in SERIES.items():
        entry = metrics.get(metric)
        for cell, block in (entry.strata.get("cell", {}) if entry else {}).items():
            kind, _, cp = cell.partition("@")
            if cp[:1] != phase or block.all.mean is None:
                continue
            out.setdefault(label.format(kind=kind), []).append(
                (int(cp[1:]), block.all.mean, block.all.ci))
    return {k: sorted(v) for k, v in sorted(out.items())}


def _panel(ax: Any, series: dict[str, list[tuple[int, float, Any]]], xlabel: str,
           log: bool, title: str) -> None:
    for label, pts in series.items():
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        line = ax.plot(xs, ys, "o-", label=label, ms=4)[0]
        lo = [p[2][0] if p[2] and p[2][0] is not None else p[1] for p in pts]
        hi = [p[2][1] if p[2] and p[2][1] is not None else p[1] for p in pts]
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.12)  # 95% CI band
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_xscale("log")
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, loc="best")


def plot_rrr(metrics: dict[str, MetricEntry], out_dir: Path) -> list[Path]:
    """rrr_exposures.png and rrr_retention.png: recognition (left) and recall (right)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for phase, name, xlabel, log in (("E", "rrr_exposures.png", "exposures (epochs)", False),
                                     ("R", "rrr_retention.png",
                                      "retention steps on unrelated text", True)):
        series = _series(metrics, phase)
        if not series:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
        _panel(left, {k: v for k, v in series.items() if k.startswith("recognition")},
               xlabel, log, "recognition (2AFC accuracy)")
        _panel(right, {k: v for k, v in series.items() if not k.startswith("recognition")},
               xlabel, log, "recall (continuation of the second half)")
        left.set_ylabel("accuracy / score")
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=120)
        plt.close(fig)
        paths.append(out_dir / name)
    return paths
