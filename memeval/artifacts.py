"""Checksums of a run folder's artifacts, sealed into the audit chain, so that an edit to any of
them (not only to audit.jsonl) is detected and named with its file and line.

`seal` writes checksums.json (per file: its sha256 and a short hash per line; the manifest per
top-level field, its audit_tail excepted since it is written after the sealing event) and
returns its sha256, which the caller records in the chain (run.end, run.rescore). `check`
compares the folder with the checksums an event recorded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from memeval.fileio import atomic_write_bytes, sha256_file, sha256_json

CHECKSUMS = "checksums.json"
FILES = ("predictions.jsonl", "verdicts.jsonl", "scores.jsonl", "metrics.json")
MANIFEST = "manifest.json"
UNSEALED = frozenset({"audit_tail"})  # moves with every event appended after the seal


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _manifest_fields(path: Path) -> dict[str, str]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {k: sha256_json(v)[:16] for k, v in raw.items() if k not in UNSEALED}


def snapshot(run_dir: Path) -> dict[str, Any]:
    files = {}
    for name in FILES:
        p = run_dir / name
        if p.is_file():
            data = p.read_bytes()
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                           "lines": [_short(line) for line in data.splitlines(keepends=True)]}
    return {"files": files, "manifest_fields": _manifest_fields(run_dir / MANIFEST)}


def seal(run_dir: Path) -> str:
    """Write checksums.json for the folder as it is now; its sha256 (to record in the chain)."""
    path = run_dir / CHECKSUMS
    atomic_write_bytes(path, (json.dumps(snapshot(run_dir), indent=1) + "\n").encode())
    return sha256_file(path)


def _file_problem(name: str, want: dict[str, Any], path: Path) -> str | None:
    if not path.is_file():
        return f"{name}: deleted"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == want["sha256"]:
        return None
    lines = [_short(line) for line in data.splitlines(keepends=True)]
    for i, (a, b) in enumerate(zip(lines, want["lines"]), 1):
        if a != b:
            return f"{name} line {i}: altered"
    if len(lines) > len(want["lines"]):
        return f"{name} line {len(want['lines']) + 1}: lines added after the seal"
    if len(lines) < len(want["lines"]):
        return f"{name} line {len(lines) + 1}: lines removed (the file ends early)"
    return f"{name}: bytes altered (line breaks)"


def check(run_dir: Path, sealed_sha256: str, skip: frozenset[str] = frozenset()) -> str | None:
    """What differs from the seal, naming file and line (or manifest field); None if nothing.
    `skip`: files the caller is about to rewrite (a re-score's scores and metrics)."""
    path = run_dir / CHECKSUMS
    if not path.is_file():
        return f"{CHECKSUMS}: deleted (the chain records one)"
    if sha256_file(path) != sealed_sha256:
        return f"{CHECKSUMS}: altered (its sha256 differs from the one the chain records)"
    want = json.loads(path.read_text(encoding="utf-8"))
    for name in FILES:
        if name in skip:
            continue
        if name in want["files"]:
            problem = _file_problem(name, want["files"][name], run_dir / name)
            if problem:
                return problem
        elif (run_dir / name).exists():
            return f"{name}: not there when the run was sealed (added afterwards)"
    try:
        fields = _manifest_fields(run_dir / MANIFEST)
    except (OSError, ValueError):
        return f"{MANIFEST}: unreadable"
    for key in sorted(set(fields) | set(want["manifest_fields"])):
        if fields.get(key) != want["manifest_fields"].get(key):
            return f"{MANIFEST} field {key!r}: altered"
    return None
