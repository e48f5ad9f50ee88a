"""The training contract: a torch causal LM that the parametric packs (rrr, knowledge-capacity)
drive, and the configuration of one training phase.

Packs see token ids only: they encode text with the model's own tokenizer, segment by segment,
so a span (a name, an attribute value) is known exactly in token positions whatever the
tokenizer. Losses are natural-log NLLs (nats), one per predicted token.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from memeval.contracts.systems import Setting, SystemKind


@runtime_checkable
class TokenizerLike(Protocol):
    eos_id: int
    pad_id: int

    def encode(self, text: str) -> list[int]: ...  # no special tokens added
    def decode(self, ids: Sequence[int]) -> str: ...
    def __len__(self) -> int: ...
    def info(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TrainConfig:
    """One training phase. `schedule`: "constant", or "cosine" = linear warmup then cosine decay
    to `min_lr_ratio` x lr at the phase's last step (Allen-Zhu & Li: 1k warmup, cosine to 0.1x)."""

    lr: float = 1e-4
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    grad_clip: float | None = 1.0
    batch_size: int = 1  # recorded only: the caller forms the batches
    optimizer: str = "adamw"
    label: str = "train"

    def lr_factor(self, step: int, total_steps: int) -> float:
        """Multiplier of `lr` for 0-based optimizer step `step` of `total_steps`."""
        if self.schedule == "constant":
            return 1.0
        if self.schedule != "cosine":
            raise ValueError(f"unknown schedule {self.schedule!r} (constant, cosine)")
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, total_steps - self.warmup_steps - 1)
        frac = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Trainable(Protocol):
    """What a training pack needs from a model. Implementations: memeval.adapters.lm.hf."""

    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[SystemKind]
    setting: ClassVar[Setting]  # parametric-only: it answers from its weights
    tokenizer: TokenizerLike
    max_length: int  # longest sequence the model accepts (positions)

    def prepare(self, corpus: Iterable[str] | None = None, seed: int | None = None) -> None:
        """Back to the initial weights (pretrained, or a fresh seeded init); a model whose
        tokenizer is fitted to data (word vocabulary) fits it on `corpus` first."""
        ...

    def variant(self, **options: Any) -> Trainable:
        """A new, unprepared model of the same family with some options changed (e.g. size)."""
        ...

    def configure(self, cfg: TrainConfig, total_steps: int) -> None:
        """Start a training phase: a fresh optimizer and LR schedule over `total_steps`."""
        ...

    def train_step(self, batch: Sequence[Sequence[int]]) -> float:
        """One optimizer update on a batch of id sequences (right-padded here, padding masked);
        returns the mean per-token loss in nats."""
        ...

    def token_losses(self, seqs: Sequence[Sequence[int]], batch_size: int = 16) -> list[np.ndarray]:
        """Per-token NLL in nats: element j-1 is the loss of token j given tokens < j."""
        ...

    def generate(self, prompts: Sequence[Sequence[int]], n_new: Sequence[int],
                 batch_size: int = 16) -> list[list[int]]:
        """Greedy continuation of each prompt by exactly n_new[i] tokens (EOS not special)."""
        ...

    def n_params(self, used_ids: Iterable[int] | None = None) -> int:
        """Parameters, tied tensors once; vocabulary rows outside `used_ids` are excluded."""
        ...

    def info(self) -> dict[str, Any]: ...  # architecture, parameters, training phases, tokens
    def close(self) -> None: ...
