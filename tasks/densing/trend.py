"""The densing trend: densities over release dates, ln(rho_max) = A t + B on the frontier
(each model that beats every earlier one), doubling time ln 2 / A with a CI from A's t-CI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memeval.metrics.densing import (LossLaw, OutOfRange, Sigmoid, effective_size, fit_trend,
                                     frontier)
from memeval.tasks.densing.tables import TrendRow


def trend_of(rows: Sequence[TrendRow], fits: dict[str, Any], d0: float) -> dict[str, Any]:
    """Densities (a score goes through the family's fits at D0) and the frontier's trend."""
    law = LossLaw(**fits["loss_law"]["params"])
    sig = Sigmoid(**fits["sigmoid"]["params"])
    origin = min(r.date for r in rows)
    table = []
    for r in rows:
        entry: dict[str, Any] = {"model": r.model, "date": r.date.isoformat(),
                                 "days": (r.date - origin).days, "params": r.params}
        if r.density is not None:
            entry.update(density=r.density, source="given")
        else:
            try:
                entry.update(density=effective_size(float(r.score), sig, law, d0)[1] / r.params,
                             source=f"score {r.score:g} through the family's fits")
            except OutOfRange as e:
                entry.update(density=None, source=f"score {r.score:g}", reason=str(e))
        table.append(entry)
    usable = [e for e in table if e["density"] is not None and e["density"] > 0]
    keep = [usable[i] for i in frontier([e["days"] for e in usable],
                                        [e["density"] for e in usable])]
    for e in keep:
        e["frontier"] = True
    out: dict[str, Any] = {"models": table, "origin": origin.isoformat(), "fit": None}
    try:
        tr = fit_trend([e["days"] for e in keep], [e["density"] for e in keep],
                       origin.isoformat())
        out["fit"] = {"slope_per_day": tr.slope_per_day, "intercept": tr.intercept,
                      "se_slope": tr.se_slope, "doubling_days": tr.doubling_days,
                      "doubling_ci": tr.doubling_ci, "n": tr.n}
    except ValueError as e:
        out["reason"] = f"no trend: {e} (frontier of {len(keep)} models)"
    return out


def trend_line(t: dict[str, Any]) -> str:
    f = t.get("fit")
    if not f:
        return t.get("reason", "no trend")
    ci = f["doubling_ci"]
    ci_text = f"[{ci[0]:.0f}, {ci[1]:.0f}] days" if ci else "no CI (the slope may be <= 0)"
    dbl = f"{f['doubling_days']:.0f} days" if f["doubling_days"] else "none (A <= 0)"
    return (f"density trend on {f['n']} frontier models: A = {f['slope_per_day']:.5f}/day, "
            f"doubling {dbl}, 95% CI {ci_text}")
