"""Shared pieces of the trainable-model adapters. (The `Trainable` protocol and `TrainConfig`
that the parametric packs use are contracts: memeval.contracts.training.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pad_batch(batch: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to the longest item: (ids, mask). Causal attention makes right padding exact:
    no real token attends to a pad, so losses equal the unpadded ones."""
    width = max(len(s) for s in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for i, s in enumerate(batch):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return ids, mask
