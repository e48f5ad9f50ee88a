"""Accuracy vs memory per learner, with 95% CI bands over class orders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402


def plot_ladder(ladders: dict[str, dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for key, ax, title in (("average_accuracy", axes[0], "average incremental accuracy"),
                           ("last_accuracy", axes[1], "last accuracy")):
        for name, lad in ladders.items():
            pts = sorted(lad["points"], key=lambda p: p["budget_mib"])
            x = [p["budget_mib"] for p in pts]
            y = [p[key]["mean"] for p in pts]
            line = ax.plot(x, y, "o-", label=name)[0]
            cis = [p[key]["ci"] for p in pts]
            if all(cis):
                ax.fill_between(x, [c[0] for c in cis], [c[1] for c in cis], alpha=0.18,
                                color=line.get_color())
        ax.set_xlabel("memory budget (MiB)")
        ax.set_ylabel("top-1 accuracy")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
