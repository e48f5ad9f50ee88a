"""Metrics tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from memeval.runfolder import RunFolder


def _fmt(x: Any, pct: bool = True) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.2f}" if pct else f"{x:.4g}"


def _ci(ci: Any, pct: bool = True) -> str:
    return f"[{_fmt(ci[0], pct)}, {_fmt(ci[1], pct)}]" if ci else "-"


def metric_rows(metrics: dict[str, Any], convention: str = "data") -> list[list[str]]:
    rows = []
    for name, entry in metrics.items():
        unit = entry.get("unit")  # set by tasks whose metric is not a fraction (nats, bits)
        pct = not unit
        blocks = [("overall", entry["overall"])] if "overall" in entry else []
        for key, val in entry.items():
            if key.startswith("by_"):
                for stratum, block in val.items():
                    label = block.get("name_mem0" if convention == "mem0" else "name", stratum)
                    blocks.append((f"{stratum} {label}" if label != stratum else stratum, block))
        for label, block in blocks:
            a = block["all"]
            rows.append([f"{name} ({unit})" if unit else name, label, str(a["n"]),
                         str(a["n_clusters"]), _fmt(a["mean"], pct),
                         _ci(a.get("ci_t"), pct), _ci(a.get("ci_boot"), pct),
                         str(block.get("n_invalid", 0))])
    return rows


def cluster_note(rows: list[list[str]]) -> str | None:
    """A warning when some row rests on fewer than 5 clusters (rows as `metric_rows` gives)."""
    few = min((int(r[3]) for r in rows if int(r[3]) >= 1), default=None)
    if few == 1:
        return "one cluster only in some rows: no CI can be computed there ('-')"
    if few is not None and few < 5:  # t has C-1 df; the bootstrap has few distinct resamples
        return (f"only {few} clusters in some rows: t CIs (C-1 df) are very wide and "
                "cluster-bootstrap CIs too narrow; neither is reliable below 5 clusters")
    return None


def print_metrics(console: Console, folder: RunFolder, convention: str = "data") -> None:
    data = folder.metrics()
    m = folder.manifest()
    title = (f"{data.get('task')} x {m.system.get('name')} (seed {m.seed}) - "
             f"{folder.path}")
    t = Table(title=title, title_justify="left")
    for col in ("metric", "stratum", "n", "clusters", "mean (fractions x100)", "95% CI (t)",
                "95% CI (cluster bootstrap)", "invalid"):
        t.add_column(col, justify="left" if col in ("metric", "stratum") else "right")
    for row in metric_rows(data["metrics"], convention):
        t.add_row(*row)
    console.print(t)
    notes = []
    few = cluster_note(metric_rows(data["metrics"], convention))
    if few:
        notes.append(few)
    if "category_convention" in data:
        conv = "Mem0 paper labels" if convention == "mem0" else data["category_convention"]
        notes.append(f"categories: {conv}")
    ee = data.get("empty_extraction")
    if ee:
        notes.append(f"empty extraction: {ee['empty_sessions']} session(s) extracted nothing; "
                     f"{ee['interference_in_empty_sessions']} distractor(s) counted as resisted; "
                     f"FMR(all) {_fmt(ee.get('fmr(all)'))} vs "
                     f"{_fmt(ee.get('fmr_excluding_empty_sessions(all)'))} without those sessions")
    times = data.get("times")
    if times:
        notes.append(f"time: add {times['add_minutes']:.2f} min, retrieval "
                     f"{times['retrieval_minutes']:.2f} min, answer {times['answer_minutes']:.2f}"
                     f" min; {times['extracted_memories']} memories extracted")
    if data.get("judges"):
        notes.append("judges: " + ", ".join(data["judges"]))
    counts = data.get("counts", {})
    if counts:
        notes.append(f"samples {counts.get('samples')}, errors {counts.get('errors')}")
        fails = counts.get("internal_failures") or {}
        if fails:
            notes.append("internal failures: " + ", ".join(f"{k} {v}" for k, v in fails.items()))
    cost = data.get("cost", {})
    for caller, c in cost.items():
        notes.append(f"{caller}: {c['calls']} calls ({c['cache_hits']} cached), "
                     f"{c['prompt_tokens']}+{c['completion_tokens']} tokens, {c['seconds']} s")
    notes.append("'(all)' estimator: invalid/failed samples count as 0")
    console.print("\n".join(notes), style="dim")
