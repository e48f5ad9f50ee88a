"""What every continual learner shares: its declared memory model (how the budget runner
sizes it) and byte accounting from what it reports it stores. The runner, not the learner,
compares `memory_bytes()` with the budget after every task."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from memeval.contracts import Setting, SystemKind
from memeval.tasks.cil.budget import PARAM_BYTES, Architecture, LearnerPlan


class LearnerBase:
    kind: ClassVar[SystemKind] = "continual-learner"
    setting: ClassVar[Setting] = "parametric-only"
    version: ClassVar[str] = "1.0"
    name: ClassVar[str]
    # How the budget runner sizes this learner (tasks/cil/budget.py): its architecture, how
    # many parameter-sized tensors it keeps per backbone parameter, whether it stores images.
    architecture: ClassVar[Architecture] = "single"
    param_copies: ClassVar[int] = 1
    uses_exemplars: ClassVar[bool] = True
    plan: LearnerPlan | None = None
    # The learner's own schedule (system options epochs=, lr=), where it differs from the
    # task's shared one: PyCIL gives each method its own; memeval's default is one for all.
    own_schedule: dict[str, float] = {}

    def begin(self, plan: LearnerPlan) -> None:
        """A fresh learner for one sample (a seed at a budget point)."""
        raise NotImplementedError

    def learn(self, experience: Any) -> None:
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def stored(self) -> dict[str, int]:
        """Counts of what is stored now: params (incl. saved/expanded blocks and parameter-
        sized state), teacher_params (a distillation teacher), exemplars (images)."""
        raise NotImplementedError

    def memory_parts(self) -> dict[str, int]:
        assert self.plan is not None
        c, h, w = self.plan.image_shape
        got = self.stored()
        parts = {"parameter_bytes": PARAM_BYTES * got["params"],
                 "exemplar_bytes": got["exemplars"] * c * h * w,
                 "teacher_bytes": PARAM_BYTES * got.get("teacher_params", 0),
                 "exemplars": got["exemplars"]}
        parts["counted_bytes"] = parts["parameter_bytes"] + parts["exemplar_bytes"] + (
            parts["teacher_bytes"] if self.plan.count_teacher else 0)
        return parts

    def memory_bytes(self) -> int:
        return self.memory_parts()["counted_bytes"]

    def info(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "architecture": self.architecture,
                "param_copies": self.param_copies, "uses_exemplars": self.uses_exemplars}

    def close(self) -> None:
        pass
