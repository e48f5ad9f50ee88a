"""Pretraining a tiny reference model on the text set's train split (the CPU-scale series)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from memeval.contracts import TrainConfig


def pretrain_on_texts(model: Any, texts: Sequence[str], steps: int, cfg: TrainConfig,
                      context: int, seed: int,
                      tick: Callable[[int], None] | None = None) -> dict[str, Any]:
    """`steps` AdamW steps on windows of `context` tokens cut from the texts joined by EOS,
    visited in seeded random order (epoch after epoch)."""
    tok = model.tokenizer
    stream: list[int] = []
    for t in texts:
        stream += tok.encode(t) + [tok.eos_id]
    windows = [stream[i:i + context] for i in range(0, len(stream) - context + 1, context)]
    if not windows:
        raise ValueError(f"training texts hold fewer than {context} tokens")
    rng = np.random.default_rng(seed)
    model.configure(cfg, steps)
    order: list[int] = []
    losses = []
    for step in range(steps):
        while len(order) < cfg.batch_size:
            order += [int(i) for i in rng.permutation(len(windows))]
        losses.append(model.train_step([windows[order.pop()] for _ in range(cfg.batch_size)]))
        if tick is not None:
            tick(step + 1)
    tail = losses[-10:]
    return {"steps": steps, "context": context, "windows": len(windows),
            "corpus_tokens": len(stream), "train_tokens": steps * cfg.batch_size * context,
            "epochs": steps * cfg.batch_size / len(windows),
            "first_loss": losses[0] if losses else None,
            "last_loss": float(np.mean(tail)) if tail else None, "config": cfg.to_dict()}
