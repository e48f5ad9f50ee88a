"""The ladder of one run (accuracy and memory per budget point, AUC-A / AUC-L per class
order with CIs over orders) and the comparison of several learners' runs (one table, one
plot), for `memeval run --suite cil-*`."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memeval.metrics import cil as m
from memeval.records import Prediction
from memeval.stats.clustered import summarize
from memeval.tasks.cil.budget import MIB


def _est(values: Sequence[float], clusters: Sequence[str]) -> dict[str, Any]:
    s = summarize(values, clusters, n_boot=1000)
    return {"mean": s.mean, "ci": list(s.ci) if s.ci else None, "n": s.n}


def summarize_ladder(predictions: Sequence[Prediction], ladder: Sequence[str]) -> dict[str, Any]:
    ok = [p for p in predictions if p.error is None and not p.meta.get("infeasible")]
    infeasible = sorted({str(p.meta["infeasible"]) for p in predictions
                         if p.meta.get("infeasible")})
    points = []
    per_order: dict[str, dict[str, tuple[float, float, float]]] = {}
    for point in ladder:
        rows = [p for p in ok if p.meta["point"] == point]
        if not rows:
            continue
        avg = [m.average_incremental(p.meta["stage_accuracy"]) for p in rows]
        last = [m.last(p.meta["stage_accuracy"]) for p in rows]
        orders = [p.cluster for p in rows]
        mem = rows[0].meta["budget_mib"]
        points.append({"point": point, "budget_mib": mem,
                       "used_mib": float(np.mean([p.meta["memory"][-1]["counted_bytes"]
                                                  for p in rows])) / MIB,
                       "exemplars": int(rows[0].meta["plan"]["exemplars"]),
                       "backbone": rows[0].meta["plan"]["backbone"],
                       "average_accuracy": _est(avg, orders), "last_accuracy": _est(last, orders),
                       "stage_accuracy": [float(v) for v in np.mean(
                           [p.meta["stage_accuracy"] for p in rows], axis=0)],
                       "seconds_per_task": float(np.mean([np.mean(p.meta["seconds"])
                                                          for p in rows]))})
        for p, a, lst in zip(rows, avg, last, strict=True):
            per_order.setdefault(p.cluster, {})[point] = (mem, a, lst)
    out: dict[str, Any] = {"points": points, "infeasible": infeasible}
    full = [o for o, d in per_order.items() if len(d) == len(points)]
    if len(points) >= 2 and full:
        auc_a = [m.auc([v[0] for v in per_order[o].values()],
                       [v[1] for v in per_order[o].values()]) for o in full]
        auc_l = [m.auc([v[0] for v in per_order[o].values()],
                       [v[2] for v in per_order[o].values()]) for o in full]
        out["auc"] = {"auc_a": _est(auc_a, full), "auc_l": _est(auc_l, full),
                      "orders": len(full), "points": [p["point"] for p in points],
                      "rule": "trapezoid over budget MiB, accuracy as a fraction"}
    return out


def across(run_dirs: Sequence[Path], out_dir: Path) -> list[str]:
    """Every learner's ladder in one table (CSV) and one plot."""
    from memeval.runfolder import RunFolder
    from memeval.tasks.cil.plots import plot_ladder

    ladders: dict[str, dict[str, Any]] = {}
    for d in run_dirs:
        folder = RunFolder(Path(d))
        ladder = folder.results().details.get("cil")
        if ladder and ladder.get("points"):
            ladders[folder.manifest().system["name"]] = ladder
    if not ladders:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "cil_ladder.csv"
    lines = []
    with table.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["learner", "point", "budget_mib", "used_mib", "backbone", "exemplars",
                    "average_accuracy", "avg_ci_low", "avg_ci_high", "last_accuracy",
                    "last_ci_low", "last_ci_high"])
        for name, lad in ladders.items():
            for p in lad["points"]:
                a, last = p["average_accuracy"], p["last_accuracy"]
                w.writerow([name, p["point"], f"{p['budget_mib']:.4f}", f"{p['used_mib']:.4f}",
                            p["backbone"], p["exemplars"], a["mean"], *(a["ci"] or ["", ""]),
                            last["mean"], *(last["ci"] or ["", ""])])
    widest = max(len(lad.get("auc", {}).get("points", [])) for lad in ladders.values())
    for name, lad in ladders.items():
        auc = lad.get("auc")
        if not auc:
            lines.append(f"{name}: no AUC (fewer than 2 feasible points)")
            continue
        span = len(auc["points"])
        lines.append(f"{name}: AUC-A {auc['auc_a']['mean']:.4f}, AUC-L {auc['auc_l']['mean']:.4f} "
                     f"({auc['orders']} orders" + (f"; over {span} of {widest} points, not "
                                                   "comparable with the others)" if span < widest
                                                   else ")"))
    plot = plot_ladder(ladders, out_dir / "cil_ladder.png")
    return [*lines, f"table: {table}", f"plot: {plot}"]
