"""The densing figures: loss vs N per training multiplier, score vs loss with the fitted
sigmoid (and the target's score), and the target's density with its CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from memeval.metrics.densing import LossLaw, Sigmoid  # noqa: E402


def plot_densing(d: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    fam = d["family"]
    law = LossLaw(**d["fits"]["loss_law"]["params"])
    sig = Sigmoid(**d["fits"]["sigmoid"]["params"])
    fig, (ax_l, ax_s, ax_r) = plt.subplots(1, 3, figsize=(14, 4.2))
    mults = sorted({round(r["tokens"] / r["params"]) for r in fam})
    for m in mults:
        sel = sorted((r for r in fam if round(r["tokens"] / r["params"]) == m),
                     key=lambda r: r["params"])
        ns = np.array([r["params"] for r in sel])
        line = ax_l.plot(ns, [r["loss"] for r in sel], "o", label=f"~{m} tokens/param")[0]
        grid = np.geomspace(ns.min(), ns.max(), 50)
        ax_l.plot(grid, law(grid, grid * m), "-", color=line.get_color(), lw=1)
    ax_l.set_xscale("log")
    ax_l.set_xlabel("parameters N")
    ax_l.set_ylabel("conditional loss (nats)")
    ax_l.set_title(f"loss law (R^2 {d['fits']['loss_law']['r2']:.3f})")
    ax_l.legend(fontsize=8)
    losses = np.array([r["loss"] for r in fam])
    grid = np.linspace(losses.min() * 0.8, losses.max() * 1.1, 100)
    ax_s.plot(losses, [r["score"] for r in fam], "o", label="reference family")
    ax_s.plot(grid, sig(grid), "-", lw=1, label="fitted sigmoid")
    ax_s.axhline(d["target_score"], color="C3", ls="--", lw=1, label="target's score")
    ax_s.set_xlabel("conditional loss (nats)")
    ax_s.set_ylabel("accuracy")
    ax_s.set_title(f"performance (R^2 {d['fits']['sigmoid']['r2']:.3f})")
    ax_s.legend(fontsize=8)
    if d["in_range"]:
        ci = d.get("density_ci")
        err = [[d["density"] - ci[0]], [ci[1] - d["density"]]] if ci else None
        ax_r.bar(["target"], [d["density"]], yerr=err, capsize=6, color="C2")
        ax_r.set_yscale("log")
        ax_r.set_ylabel("density N_hat / N")
        ax_r.set_title("capacity density (95% CI over people)")
    else:
        ax_r.axis("off")
        ax_r.text(0.02, 0.5, "density: out of range\n" + _wrap(d["reason"]), fontsize=9,
                  va="center", transform=ax_r.transAxes)
    fig.tight_layout()
    path = out / "densing.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


def _wrap(text: str, width: int = 44) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join([*lines, cur])


def plot_trend(t: dict[str, Any], out: Path) -> Path:
    """Densities over release dates (log scale), the frontier and its fitted trend."""
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    rows = [r for r in t["models"] if r["density"]]
    ax.plot([r["days"] for r in rows], [r["density"] for r in rows], "o", color="gray",
            label="models")
    front = [r for r in rows if r.get("frontier")]
    ax.plot([r["days"] for r in front], [r["density"] for r in front], "o", color="C0",
            label="frontier (rho_max)")
    for r in rows:
        ax.annotate(r["model"], (r["days"], r["density"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    f = t.get("fit")
    if f:
        xs = np.linspace(0, max(r["days"] for r in rows), 50)
        label = f"ln rho = {f['slope_per_day']:.4f} t + {f['intercept']:.2f}" + (
            f", doubling {f['doubling_days']:.0f} d" if f["doubling_days"] else "")
        ax.plot(xs, np.exp(f["slope_per_day"] * xs + f["intercept"]), "-", lw=1, label=label)
    ax.set_yscale("log")
    ax.set_xlabel(f"days since {t['origin']}")
    ax.set_ylabel("capacity density")
    ax.set_title("densing trend")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "densing_trend.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
