"""The environment third-party memory libraries run in: offline switches set before they are
imported, their versions for provenance, and a thread-safe proxy of the shared embedder."""

from __future__ import annotations

import os
import threading
from importlib import metadata
from typing import Any

# Before any library import: no telemetry, no hub look-ups, no remote price tables.
OFFLINE_ENV = {"ANONYMIZED_TELEMETRY": "False", "MEM0_TELEMETRY": "False",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LANGSMITH_TRACING": "false"}


def go_offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def versions(*dists: str) -> dict[str, str]:
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = "not installed"
    return out


class LockedEncoder:
    """A SentenceTransformer proxy: fast tokenizers fail when two threads encode at once."""

    _lock = threading.Lock()

    def __init__(self, model: Any):
        self._model = model

    def encode(self, *args: Any, **kw: Any) -> Any:
        with self._lock:
            return self._model.encode(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
