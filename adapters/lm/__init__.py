"""Trainable language models (torch): transformers backends of the `Trainable` contract."""
