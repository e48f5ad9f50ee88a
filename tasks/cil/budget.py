"""Byte accounting and memory-aligned budgets (Zhou et al., ICLR 2023; cil_budget.md).

A parameter costs 4 bytes (float32), an exemplar H*W*C bytes (one uint8 per channel value);
labels, class means and the classifier head are not counted. A budget point is named by the
reference the paper aligns to: expandable DER with T copies of a ladder backbone plus `base`
exemplars. Every other learner gets what fills the same bytes:

- single backbone (iCaRL, Replay, ...): the full-size backbone, exemplars filling the rest;
  at the full-size point that is base + floor(4 * backbone * (T - 1) / image_bytes);
- MEMO: the ladder backbone's generalized block once and its specialized block T times,
  base + floor(4 * (backbone * T - (g + s * T)) / image_bytes) exemplars;
- a learner that stores k parameter copies (EWC: weights, importances, anchor) pays k
  backbones; where that alone exceeds the budget, the point is infeasible for it (reported,
  never run over budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

PARAM_BYTES = 4
IMAGE_BYTES = {"digits": 8 * 8 * 1, "cifar": 32 * 32 * 3, "imagenet": 224 * 224 * 3}
MIB = 2 ** 20
Architecture = Literal["single", "der", "memo"]


def image_count(model_bytes: int, image_bytes: int) -> int:
    """How many images the bytes of a model buy (floor): ResNet32 = 603 CIFAR images."""
    return model_bytes // image_bytes


def single_exemplars(backbone: int, tasks: int, image_bytes: int, base: int = 2000) -> int:
    return base + PARAM_BYTES * backbone * (tasks - 1) // image_bytes


def memo_exemplars(backbone: int, g: int, s: int, tasks: int, image_bytes: int,
                   base: int = 2000) -> int:
    return base + PARAM_BYTES * (backbone * tasks - (g + s * tasks)) // image_bytes


def der_budget(backbone: int, tasks: int, image_bytes: int, base: int = 2000) -> int:
    """The bytes of a budget point: T backbones plus `base` exemplars."""
    return PARAM_BYTES * backbone * tasks + base * image_bytes


class LearnerPlan(BaseModel):
    """What one learner is given for one sample (a seed at a budget point); persisted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learner: str
    architecture: Architecture
    backbone: str  # a tasks.cil.backbones spec
    exemplars: int  # the total exemplar memory (fixed total, shared by the classes seen)
    budget_bytes: int
    point: str  # the budget point's name, e.g. "mlp32"
    n_classes: int
    tasks: int
    increment: int  # classes per task after the first
    image_shape: tuple[int, int, int]  # C, H, W
    pixel_max: float  # the data's largest value, for scaling to [0, 1]
    seed: int
    epochs: int
    lr: float
    batch_size: int
    count_teacher: bool = False


@dataclass(frozen=True)
class Infeasible:
    learner: str
    point: str
    needed_bytes: int
    budget_bytes: int

    def reason(self) -> str:
        return (f"{self.learner} does not fit budget point {self.point}: its parameters alone "
                f"need {self.needed_bytes:,} B > {self.budget_bytes:,} B")


def exemplars_for(arch: Architecture, copies: int, uses_exemplars: bool, point_counts:
                  tuple[int, int], full_counts: tuple[int, int], tasks: int, image_bytes: int,
                  base: int, budget: int) -> tuple[int, int]:
    """(exemplars, fixed parameter bytes at the last stage) for one learner at one point."""
    g, s = point_counts
    if arch == "der":
        fixed = PARAM_BYTES * (g + s) * tasks
    elif arch == "memo":
        fixed = PARAM_BYTES * (g + s * tasks)
    else:
        fixed = PARAM_BYTES * copies * sum(full_counts)
    ex = (budget - fixed) // image_bytes if uses_exemplars else 0
    if arch == "der":
        ex = min(ex, base)  # the reference itself: exactly its base exemplars
    return ex, fixed


def plan_for(learner: str, arch: Architecture, copies: int, uses_exemplars: bool,
             point: str, full: str, counts: dict[str, tuple[int, int]], tasks: int,
             image_bytes: int, base: int, **common) -> LearnerPlan | Infeasible:
    budget = der_budget(sum(counts[point]), tasks, image_bytes, base)
    backbone = full if arch == "single" else point
    ex, fixed = exemplars_for(arch, copies, uses_exemplars, counts[point], counts[full],
                              tasks, image_bytes, base, budget)
    if fixed > budget:
        return Infeasible(learner, point, fixed, budget)
    return LearnerPlan(learner=learner, architecture=arch, backbone=backbone, exemplars=ex,
                       budget_bytes=budget, point=point, tasks=tasks, **common)
