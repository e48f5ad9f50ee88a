"""`memeval audit verify RUN_OR_FILE`: check an audit log's hash chain (memeval.audit)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from memeval.audit import verify, verify_run
from memeval.commands.common import IO


def register(sub: Any) -> None:
    a = sub.add_parser("audit", help="audit-log tools (hash-chained audit.jsonl)")
    asub = a.add_subparsers(dest="audit_cmd", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="walk the hash chain; exit 1 with the first broken line")
    v.add_argument("target", type=Path, metavar="RUN_OR_FILE",
                   help="a run folder (also checked against its manifest's audit_tail) or an "
                        "audit.jsonl file")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace, io: IO) -> int:
    console, err = io.out, io.err
    target: Path = args.target
    if target.is_dir():
        res, what = verify_run(target), f"{target / 'audit.jsonl'} (checked against manifest)"
    else:
        res, what = verify(target), str(target)
    if not res.ok:
        err.print(f"[bold red]BROKEN[/] {what}: {res.reason}", highlight=False,
                  soft_wrap=True)
        return 1
    console.print(f"OK {what}: {res.n_events} events, chain intact, last sha256 "
                  f"{res.last_sha256}", highlight=False, soft_wrap=True)
    return 0
