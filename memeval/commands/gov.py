"""`memeval gov check --baseline A --candidate B --policy P`: the admission gate (memeval.gov);
exit 0 admit, 1 reject, 3 inconclusive (2 is a user error)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from memeval.commands.common import IO
from memeval.gov import EXIT, gate
from memeval.gov_models import shipped_policies


def register(sub: Any) -> None:
    g = sub.add_parser("gov", help="governance: admission gate with change-audit certificate")
    gsub = g.add_subparsers(dest="gov_cmd", metavar="ACTION", required=True)
    c = gsub.add_parser("check", help="admit / reject / inconclusive for a candidate run against "
                        "a baseline under a pre-registered policy (exit 0 / 1 / 3)")
    c.add_argument("--baseline", type=Path, required=True, metavar="RUN")
    c.add_argument("--candidate", type=Path, required=True, metavar="RUN")
    c.add_argument("--policy", required=True, help="policy YAML, or a shipped one: "
                   + ", ".join(sorted(shipped_policies())))
    c.add_argument("--out", type=Path, help="certificate JSON (default: "
                   "CANDIDATE/gate_certificate.json)")
    c.add_argument("--operator", help="who runs the gate (default: the login name)")
    c.add_argument("--approve", action="append", default=[], metavar="NAME",
                   help="an approver in the chain (repeatable)")
    c.add_argument("--route", help="change route for the certificate (default: the policy's)")
    c.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace, io: IO) -> int:
    console = io.out
    cert = gate(args.baseline, args.candidate, args.policy, operator=args.operator,
                approvals=args.approve, route=args.route, out=args.out)
    t = Table(title=escape(f"gate {cert.verification.policy}: {cert.target.change} (x100)"),
              title_justify="left")
    for col in ("rule", "baseline", "candidate [95% CI]", "threshold", "improvement [95% CI]",
                "margin", "status"):
        t.add_column(col)
    pct = (lambda x: "-" if x is None else f"{100 * x:.2f}")
    ci = (lambda c: escape(f"[{pct(c[0])}, {pct(c[1])}]") if c else "")
    for r in cert.verification.rules:
        cand = r.candidate
        t.add_row(escape(r.rule), pct(r.baseline.mean if r.baseline else None),
                  f"{pct(cand.mean)} {ci(cand.ci)}" if cand else "-",
                  f"{pct(r.threshold)} {r.threshold_status}" if r.threshold is not None else "-",
                  f"{pct(r.improvement)} {ci(r.improvement_ci)}",
                  f"{pct(r.margin)} {r.margin_status}" if r.margin is not None else "-", r.status)
    console.print(t)
    for r in cert.verification.rules:
        for why in r.reasons:
            console.print(escape(f"  {r.rule}: {why}"), style="dim", highlight=False)
    colour = {"admit": "green", "reject": "red", "inconclusive": "yellow"}[cert.decision]
    line = f"[bold {colour}]{cert.decision.upper()}[/]"
    if cert.failing:
        line += escape(f" (failing: {', '.join(cert.failing)})")
    if cert.more_samples and cert.more_samples.items:
        line += (f" - about {cert.more_samples.items} more items "
                 f"(~{cert.more_samples.clusters} more clusters) would decide it")
    console.print(line)
    console.print(f"certificate: {args.out or Path(args.candidate) / 'gate_certificate.json'}; "
                  f"gate.decision appended to {cert.audit.candidate_audit_log}", style="dim")
    return EXIT[cert.decision]
