"""IC and compression gain (text bits - NLL bits) against log2 FLOPs per token, per series."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402


def plot_series(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """rows: one per model with series, model, log2_flops, ic, ic_ci, gain."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_ic, ax_gain) = plt.subplots(1, 2, figsize=(10, 4.2))
    for series in dict.fromkeys(r["series"] for r in rows):
        sel = sorted((r for r in rows if r["series"] == series), key=lambda r: r["log2_flops"])
        xs = [r["log2_flops"] for r in sel]
        err = [[r["ic"] - r["ic_ci"][0] for r in sel], [r["ic_ci"][1] - r["ic"] for r in sel]] \
            if all(r.get("ic_ci") for r in sel) else None
        line = ax_ic.errorbar(xs, [r["ic"] for r in sel], yerr=err, fmt="o-", capsize=3,
                              label=series)
        ax_gain.plot(xs, [r["gain"] for r in sel], "o-", color=line[0].get_color(), label=series)
        for r in sel:  # short labels: a long one would squeeze the axes
            label = r["model"].split(" (")[0].removeprefix("gpt2-tiny-")[:24]
            ax_ic.annotate(label, (r["log2_flops"], r["ic"]), fontsize=7, xytext=(3, 3),
                           textcoords="offset points")
    ax_ic.set_xlabel("log2 FLOPs per token")
    ax_ic.set_ylabel("information capacity (95% CI over texts)")
    ax_gain.set_xlabel("log2 FLOPs per token")
    ax_gain.set_ylabel("text bits - NLL bits per token")
    ax_ic.set_title(title or "information capacity")
    ax_gain.set_title("compression gain")
    for ax in (ax_ic, ax_gain):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
