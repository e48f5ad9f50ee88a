"""Bits stored vs parameters, with the 2 bits/param line (Allen-Zhu & Li 3.3, Figure 1 style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402


def plot_capacity(rows: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """rows: dicts with params, bits, max_bits, exposures, model (one per trained config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    pos = [r["bits"] for r in rows if r["bits"] is not None and r["bits"] > 0]
    floor = min(pos + [rows[0]["max_bits"]]) / 4  # where non-positive estimates are drawn
    for exp in sorted({r["exposures"] for r in rows}):
        sel = sorted((r for r in rows if r["exposures"] == exp and r["bits"] is not None),
                     key=lambda r: r["params"])
        good = [r for r in sel if r["bits"] > 0]
        line = ax.plot([r["params"] for r in good], [r["bits"] for r in good], "o-",
                       label=f"{exp} exposures")[0]
        bad = [r for r in sel if r["bits"] <= 0]  # a log axis cannot show them: mark the floor
        ax.plot([r["params"] for r in bad], [floor] * len(bad), "v", color=line.get_color(),
                label=f"{exp} exposures: bits <= 0" if bad else None)
        for r in sel:
            y = r["bits"] if r["bits"] > 0 else floor
            ax.annotate(r["model"].replace("gpt2-tiny-", ""), (r["params"], y), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ps = [r["params"] for r in rows]
    lo, hi = min(ps) / 1.5, max(ps) * 1.5
    ax.plot([lo, hi], [2 * lo, 2 * hi], "k--", lw=1, label="2 bits / param")
    ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="1 bit / param")
    ax.axhline(rows[0]["max_bits"], color="gray", lw=1, label="bits in the data (R_max x P)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters P (unused vocabulary rows excluded)")
    ax.set_ylabel("knowledge bits stored")
    ax.set_title(title or "knowledge capacity")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
