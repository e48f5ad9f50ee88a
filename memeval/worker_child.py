"""The child's side of memeval.jsonworker, stdlib only: a worker in another environment loads
this file by path (memeval is not installed there)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any


def claim_stdout() -> IO[str]:
    """The protocol's stream: a copy of fd 1, while fd 1 itself (Python's and C libraries'
    prints) goes to stderr and cannot corrupt a reply. Call it before importing libraries."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def serve(handle: Callable[[dict[str, Any]], dict[str, Any]], hello: Mapping[str, Any],
          out: IO[str]) -> int:
    """Answer JSON requests from stdin until EOF; `handle(req)` returns the reply's fields."""
    out.write(json.dumps({"ok": True, **hello}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            res = {"ok": True, **handle(json.loads(line))}
        except Exception as e:  # noqa: BLE001 - sent to memeval, which raises it there
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(res) + "\n")
        out.flush()
    return 0


def load_by_path(name: str, path: str) -> Any:
    """A module from a file (memeval's pure-torch backbones, say) without installing memeval."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
