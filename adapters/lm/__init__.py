"""Trainable language models (torch): the `Trainable` protocol and its transformers backends."""

from memeval.adapters.lm.base import TokenizerLike, Trainable, TrainConfig

__all__ = ["TokenizerLike", "Trainable", "TrainConfig"]
