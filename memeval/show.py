"""A run's results as a terminal table, with the notes that qualify them."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from memeval.contracts import Results
from memeval.errors import UserError
from memeval.records import RunManifest
from memeval.runfolder import RunFolder


def fmt(x: float | None, unit: str = "") -> str:
    """Fractions x100 with 2 decimals; a metric with a unit as it is (4 significant digits)."""
    if x is None:
        return "-"
    return f"{x:.4g}" if unit else f"{100 * x:.2f}"


def fmt_ci(ci: tuple[float, float] | None, unit: str = "") -> str:
    return f"[{fmt(ci[0], unit)}, {fmt(ci[1], unit)}]" if ci else "-"


def pick_convention(results: Results, convention: str | None) -> str | None:
    """The stratum naming to use: the asked one (it must be declared) or the first declared."""
    if convention is None:
        return next(iter(results.conventions), None)
    if convention not in results.conventions:
        valid = ", ".join(results.conventions) or "none (this task names no strata)"
        raise UserError(f"--convention {convention!r}: {results.task} declares {valid}")
    return convention


def metric_rows(results: Results, convention: str | None = None) -> list[list[str]]:
    rows = []
    for name, entry in results.metrics.items():
        unit = entry.spec.unit
        for key, value, block in entry.blocks():
            a = block.all
            label = "overall" if key == "overall" else block.label(value, convention)
            rows.append([f"{name} ({unit})" if unit else name, label, str(a.n),
                         str(a.n_clusters), fmt(a.mean, unit), fmt_ci(a.ci_t, unit),
                         fmt_ci(a.ci_boot, unit), str(block.n_invalid)])
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


def run_notes(m: RunManifest) -> list[str]:
    """Counts, swallowed library failures and LLM cost, as the manifest records them."""
    notes = []
    counts = m.counts or {}
    if counts:
        notes.append(f"samples {counts.get('samples')}, errors {counts.get('errors')}")
        fails = counts.get("internal_failures") or {}
        if fails:
            notes.append("internal failures: " + ", ".join(f"{k} {v}" for k, v in fails.items()))
    for caller, c in (m.cost or {}).items():
        notes.append(f"{caller}: {c['calls']} calls ({c['cache_hits']} cached), "
                     f"{c['prompt_tokens']}+{c['completion_tokens']} tokens, {c['seconds']} s")
    return notes


def print_results(console: Console, folder: RunFolder, convention: str | None = None) -> None:
    results, m = folder.results(), folder.manifest()
    conv = pick_convention(results, convention)
    t = Table(title=f"{results.task} x {m.system.get('name')} (seed {m.seed}) - {folder.path}",
              title_justify="left")
    for col in ("metric", "stratum", "n", "clusters", "mean (fractions x100)", "95% CI (t)",
                "95% CI (cluster bootstrap)", "invalid"):
        t.add_column(col, justify="left" if col in ("metric", "stratum") else "right")
    rows = metric_rows(results, conv)
    for row in rows:
        t.add_row(*row)
    console.print(t)
    notes = [n for n in [cluster_note(rows)] if n]
    if conv is not None:
        notes.append(f"strata named by: {results.conventions[conv]}")
    if results.no_items:
        notes.append("declared, but no items in this run: " + ", ".join(results.no_items))
    notes += results.notes
    if results.judges:
        notes.append("judges: " + ", ".join(results.judges))
    notes += run_notes(m)
    notes.append("'(all)' estimator: invalid/failed samples count as 0")
    console.print("\n".join(notes), style="dim")
