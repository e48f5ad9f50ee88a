"""Leaderboard plots (matplotlib Figures, Agg backend, no pyplot state): a metric's mean with its
95% CI per system, and a metric by question type / category, one series per system. Both read
the leaderboard's long table (memeval.leaderboard.data.long_table): the "(all)" estimator and
the headline CI of metrics.json; fractions x100, metrics with a unit (nats, bits) as they are."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from memeval.numbers import finite_or_none  # noqa: E402

COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a", "#e16f24",
          "#0550ae")


_num = finite_or_none


def _errbar(ax: Axes, x: float, row: pd.Series, color: str, label: str | None) -> None:
    mean = _num(row["mean"])
    if mean is None:
        return
    lo, hi = _num(row["ci low"]), _num(row["ci high"])
    k = 1.0 if row.get("unit") else 100.0  # fractions x100; nats, bits as they are
    y = k * mean
    if lo is not None and hi is not None:
        err = [[max(0.0, y - k * lo)], [max(0.0, k * hi - y)]]
        ax.errorbar([x], [y], yerr=err, fmt="o", capsize=4, color=color, label=label)
    else:  # one cluster: no CI; drawn hollow so it is not read as a tight interval
        ax.plot([x], [y], "o", mfc="white", color=color, label=label)


def _ylabel(rows: pd.DataFrame) -> str:
    units = [u for u in rows["unit"] if u] if "unit" in rows else []
    return str(units[0]) if units else "x100"


def metric_ci_figure(long: pd.DataFrame, metric: str) -> Figure:
    """Mean with 95% CI bars, one point per system (overall stratum)."""
    rows = long[(long["metric"] == metric) & (long["stratum key"] == "overall")]
    lower = bool(rows["lower is better"].any())
    rows = rows.sort_values("mean", ascending=lower, na_position="last")
    fig = Figure(figsize=(max(4.0, 0.9 * len(rows) + 2), 3.4))
    ax = fig.add_subplot(1, 1, 1)
    for i, (_, row) in enumerate(rows.iterrows()):
        _errbar(ax, i, row, COLORS[0], None)
    ax.set_xticks(list(range(len(rows))))
    ax.set_xticklabels(list(rows["system"]), rotation=25, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    arrow = " (lower is better)" if lower else ""
    ax.set_title(f"{metric}{arrow}: mean ('all') with 95% CI", fontsize=10)
    ax.set_ylabel(_ylabel(rows), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def strata_figure(long: pd.DataFrame, metric: str, stratum_key: str) -> Figure:
    """The metric per stratum (question type, LoCoMo category...), one series per system."""
    rows = long[(long["metric"] == metric) & (long["stratum key"] == stratum_key)]
    labels = list(dict.fromkeys(rows["stratum"]))
    systems = list(dict.fromkeys(rows["system"]))
    fig = Figure(figsize=(max(5.0, 1.1 * len(labels) + 2), 3.8))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.7 / max(1, len(systems))
    for k, system in enumerate(systems):
        mine = rows[rows["system"] == system]
        first = True
        for i, lab in enumerate(labels):
            hit = mine[mine["stratum"] == lab]
            if len(hit) and _num(hit.iloc[0]["mean"]) is not None:
                x = i - 0.35 + width * (k + 0.5)
                _errbar(ax, x, hit.iloc[0], COLORS[k % len(COLORS)], system if first else None)
                first = False
    ax.set_xticks(list(range(len(labels))))
    ax.set_xticklabels(labels, rotation=25, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_title(f"{metric} by {stratum_key.replace('_', ' ')} (95% CI)", fontsize=10)
    ax.set_ylabel(_ylabel(rows), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def strata_keys(long: pd.DataFrame, metric: str) -> list[str]:
    keys = long.loc[long["metric"] == metric, "stratum key"]
    return [k for k in dict.fromkeys(keys) if k != "overall"]


def png(fig: Figure) -> bytes:
    """The figure as PNG (shown with st.image at its own size, on every Streamlit version)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()
