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
    v = asub.add_parser("verify", help="walk the hash chain and check every artifact against "
                                       "the sealed checksums; exit 1 naming the first altered "
                                       "file and line")
    v.add_argument("target", type=Path, metavar="RUN_OR_FILE",
                   help="a run folder (its chain, its manifest's audit_tail and every "
                        "artifact) or an audit.jsonl file (its chain only)")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace, io: IO) -> int:
    console, err = io.out, io.err
    target: Path = args.target
    if target.is_dir():
        res = verify_run(target)
        what = target / (res.artifact or "audit.jsonl")
    else:
        res, what = verify(target), target
    if not res.ok:
        err.print(f"[bold red]BROKEN[/] {what}: {res.reason}", highlight=False,
                  soft_wrap=True)
        return 1
    console.print(f"OK {target}: {res.reason}; last sha256 {res.last_sha256}", highlight=False,
                  soft_wrap=True)
    return 0
