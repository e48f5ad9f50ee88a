"""Running the real `memeval` CLI from tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def memeval(*args: str, env: dict | None = None, timeout: float = 600,
            check: bool = True) -> subprocess.CompletedProcess:
    import os

    proc = subprocess.run([sys.executable, "-m", "memeval", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"memeval {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc
