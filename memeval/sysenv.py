"""Per-system Python environments, built on first use.

A memory library whose pins clash with memeval's (superlocalmemory pins transformers 5.10.4
and numpy 2.4.4; MemoryOS pins openai<2) gets its own venv under `.venv-systems/<name>`
(or $MEMEVAL_SYSTEMS_DIR/<name>): built once, idempotently, from the requirements its adapter
declares; a stamp keyed by them skips the build next time, and pip's cache makes a rebuild
cheap. torch is installed first as memeval's own CPU build (torch==2.13.0 from this
machine's wheel), so no library pulls a CUDA build of several GB."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from memeval.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def systems_dir() -> Path:
    env = os.environ.get("MEMEVAL_SYSTEMS_DIR")
    if env:
        return Path(env)
    if (REPO / "pyproject.toml").is_file():  # a checkout (editable install)
        return REPO / ".venv-systems"
    return Path.home() / ".cache" / "memeval" / "systems"


def ensure_env(name: str, requirements: Sequence[str], first: Sequence[str] = ("torch==2.13.0",),
               minutes: str = "a few") -> Path:
    """The interpreter of system `name`'s environment, built if missing."""
    root = systems_dir() / name
    key = hashlib.sha256("\n".join([*first, "--", *requirements]).encode()).hexdigest()[:16]
    stamp = root / f".memeval-env-{key}"
    python = root / "bin" / "python"
    if stamp.is_file() and python.is_file():
        return python
    systems_dir().mkdir(parents=True, exist_ok=True)
    # one builder at a time: two first uses at once (parallel runs, Ray workers) otherwise
    # both `venv --clear` the same folder and one dies mid-install (seen with memos)
    with (systems_dir() / f".{name}.build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and python.is_file():  # built by the one we waited for
            return python
        return _build(name, root, python, stamp, requirements, first, minutes)


def _build(name: str, root: Path, python: Path, stamp: Path, requirements: Sequence[str],
           first: Sequence[str], minutes: str) -> Path:
    log = systems_dir() / f"{name}.build.log"
    print(f"[memeval] building the environment of {name} in {root} (first use, {minutes} "
          f"minutes; log: {log})", file=sys.stderr, flush=True)
    steps = [[sys.executable, "-m", "venv", "--clear", str(root)],
             [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"]]
    if first:
        steps.append([str(python), "-m", "pip", "install", "-q", *first])
    steps.append([str(python), "-m", "pip", "install", "-q", *first, *requirements])
    with log.open("w", encoding="utf-8") as fh:
        for cmd in steps:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT)
            if code != 0:
                tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-6:])
                raise UserError(f"building the environment of {name} failed (exit {code}) at "
                                f"`{' '.join(cmd[2:5])} ...`; the log's last lines ({log}):\n"
                                f"{tail}")
    for old in root.glob(".memeval-env-*"):
        old.unlink()
    stamp.touch()
    print(f"[memeval] environment of {name} ready", file=sys.stderr, flush=True)
    return python
