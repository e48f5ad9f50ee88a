"""LoCoMo task pack (Maharana et al., ACL 2024): loader, official scorer, protocol.

`score_answer(prediction, answer, category)` is the official per-question score."""

from memeval.tasks.locomo.scoring import category_name, score_answer

__all__ = ["category_name", "score_answer"]
