"""`memeval compare RUN...`: paired tests, corrected p-values, effect sizes, ranks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from memeval.commands.common import IO
from memeval.comparison import CompareReport, compare_runs
from memeval.fileio import write_json_atomic
from memeval.runs import parse_stratum
from memeval.show import fmt, fmt_ci


def _p(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def print_report(console: Console, rep: CompareReport) -> None:
    t = Table(title=f"paired differences A - B (x100); p corrected with {rep.correction}",
              title_justify="left")
    for col in ("metric", "A vs B", "n (cl.)", "mean A / B", "A - B [95% CI]", "test", "p",
                "p adj.", "d", "Cliff", "MDE"):
        t.add_column(col, justify="left" if col in ("metric", "A vs B", "test") else "right",
                     no_wrap=col == "metric")
    for p in rep.pairs:
        star = "*" if p.significant else ""
        t.add_row(p.metric, f"{p.a}\nvs {p.b}", f"{p.n} ({p.n_clusters})",
                  f"{fmt(p.mean_a)} / {fmt(p.mean_b)}", f"{fmt(p.diff)}{star} {fmt_ci(p.ci)}",
                  "McNemar" if p.test == "mcnemar_exact" else "sign-flip", _p(p.p_raw),
                  _p(p.p_corrected), "-" if p.cohens_d is None else f"{p.cohens_d:.2f}",
                  "-" if p.cliffs_delta is None else f"{p.cliffs_delta:.2f}", fmt(p.mde))
    console.print(t)
    r = Table(title="ranks within each setting (shared rank '=' where corrected tests do not "
                    "separate runs)",
              title_justify="left")
    for col in ("metric", "setting", "rank", "run", "mean x100", "95% CI", "n"):
        r.add_column(col, justify="left" if col in ("metric", "setting", "run") else "right")
    for metric, entries in rep.rankings.items():
        arrow = "higher is better" if rep.higher_is_better[metric] else "lower is better"
        for e in entries:
            r.add_row(f"{metric} ({arrow})", e.setting, f"{e.rank}{'=' if e.shared else ''}",
                      e.run,
                      fmt(e.mean), fmt_ci(e.ci), str(e.n))
    console.print(r)
    console.print("\n".join(["* significant after correction"] + rep.notes), style="dim")


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="paired comparison of runs on the same task: CIs, tests, "
                                       "corrected p-values, effect sizes, ranks")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN")
    p.add_argument("--metric", action="append", help="metric to compare (repeatable; default: "
                   "every pairable metric all runs share)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full result as JSON")
    p.add_argument("--correction", choices=["holm", "fdr_bh"], default="holm",
                   help="multiple-comparison correction across all pairs and metrics "
                        "(default holm: family-wise)")
    p.add_argument("--stratum", action="append", metavar="KEY=VALUE",
                   help="compare within one stratum only, e.g. category=5 (repeatable)")
    p.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstrap and permutations")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace, io: IO) -> int:
    rep = compare_runs(args.runs, args.metric, correction=args.correction, n_boot=args.n_boot,
                       n_perm=args.n_boot, seed=args.seed, stratum=parse_stratum(args.stratum))
    print_report(io.out, rep)
    if args.json:
        write_json_atomic(args.json, rep.model_dump(mode="json"))
        io.out.print(f"written: {args.json}")
    return 0
