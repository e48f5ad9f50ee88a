"""The lines a LoCoMo run prints beside its official numbers (never instead of them): the gold
ceiling per category and the clean-subset estimate of each metric (errata items excluded)."""

from __future__ import annotations

from memeval.contracts import Block, MetricEntry


def _est(b: Block | None) -> str:
    if b is None or b.all.mean is None:
        return "-"
    ci = b.all.ci
    return f"{100 * b.all.mean:.2f}" + (f" [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]" if ci else "")


def audit_notes(metrics: dict[str, MetricEntry], answers: str) -> list[str]:
    notes = []
    ceiling = metrics.get("gold_ceiling")
    if ceiling is not None and ceiling.overall is not None:
        per = ", ".join(f"{k} {_est(b)}" for k, b in ceiling.strata.get("category", {}).items())
        notes.append(f"gold ceiling (audit dial481/locomo-audit, {answers} answers): overall "
                     f"{_est(ceiling.overall)}; by category {per}: a judge that checks answers "
                     "against the key cannot credit a correct system beyond it")
    clean = [f"{name} {_est(e.overall)} official vs {_est(e.strata['gold'].get('clean'))} clean"
             for name, e in metrics.items() if "gold" in e.strata and e.overall is not None]
    if clean:
        n = next(iter(metrics.values())).strata.get("gold", {}).get("erratum")
        notes.append(f"clean subset ({n.all.n if n else 0} errata items excluded): "
                     + "; ".join(clean))
    return notes
