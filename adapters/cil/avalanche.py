"""Avalanche's learners (avalanche-lib 0.6.0) as memeval continual learners.

Avalanche needs torchvision, and PyPI's torchvision does not load beside memeval's CPU torch
2.13.0, so Avalanche lives in its own environment (`bash scripts/setup.sh --extra avalanche`
makes .venv-cil with torch 2.14.1 + torchvision 0.29.1; or set MEMEVAL_AVALANCHE_PYTHON).
Each learner drives a worker there (adapters/cil/avalanche_worker.py) over JSON lines;
experiences go as .npz files in the system's storage folder. The backbone is memeval's own
(tasks/cil/backbones.py, loaded by path), with a linear head over all classes whose logits
are restricted to the classes seen at prediction.

What is counted is read from the strategy's own state, not from its configuration: the
replay/GDumb buffer's length, iCaRL's stored exemplars, EWC's saved parameters and
importances (2 extra copies), LwF's and iCaRL's teacher (reported; counted only with
count_teacher, since the aligned formula gives single-backbone methods one backbone).
iCaRL's memory: Avalanche's fixed_memory=True is a fixed total (PyCIL's "fixed_memory" means
a fixed number per class); memeval passes the largest total whose per-class rounding never
exceeds the plan's exemplars.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.adapters.cil.base import LearnerBase
from memeval.contracts import SystemContext
from memeval.errors import UserError
from memeval.jsonworker import JsonWorker
from memeval.tasks.cil.budget import LearnerPlan

WORKER = Path(__file__).with_name("avalanche_worker.py")
REPO = Path(__file__).resolve().parents[2]
NOT_INSTALLED = ("Avalanche is an optional extra in its own environment: run `bash "
                 "scripts/setup.sh --extra avalanche` (creates .venv-cil, ~6 GB, ~2 min), or "
                 "set MEMEVAL_AVALANCHE_PYTHON to a Python that has avalanche-lib 0.6.0")


def avalanche_python() -> Path | None:
    env = os.environ.get("MEMEVAL_AVALANCHE_PYTHON")
    cand = Path(env) if env else REPO / ".venv-cil" / "bin" / "python"
    return cand if cand.is_file() else None


class AvalancheLearner(LearnerBase):
    learner: ClassVar[str]

    def __init__(self, ctx: SystemContext | None = None, epochs: int | None = None,
                 lr: float | None = None, **options: Any) -> None:
        python = avalanche_python()
        if python is None:
            raise UserError(NOT_INSTALLED)
        self.own_schedule = {k: v for k, v in (("epochs", epochs), ("lr", lr)) if v is not None}
        self.options = {k: float(v) for k, v in options.items()}
        root = Path(ctx.storage_dir) if ctx is not None else Path(tempfile.mkdtemp())
        root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="cil-", dir=root))
        self.worker = JsonWorker(python, WORKER, [json.dumps({"repo": str(REPO)})],
                                 env={"OMP_NUM_THREADS": "1"}, label=f"Avalanche {self.name}")

    def begin(self, plan: LearnerPlan) -> None:
        self.plan = plan
        self.started = self.worker.ask({"op": "begin", "plan": plan.model_dump(),
                                        "options": self.options})

    def learn(self, experience: Any) -> None:
        path = self.dir / "experience.npz"
        np.savez(path, x=experience.x, y=experience.y)
        self.worker.ask({"op": "learn", "path": str(path)})

    def predict(self, x: np.ndarray) -> np.ndarray:
        path = self.dir / "predict.npz"
        np.savez(path, x=x)
        return np.asarray(self.worker.ask({"op": "predict", "path": str(path)})["labels"])

    def stored(self) -> dict[str, int]:
        r = self.worker.ask({"op": "memory"})
        return {"params": int(r["params"]) + int(r["stored_params"]),
                "teacher_params": int(r["teacher_params"]), "exemplars": int(r["exemplars"])}

    def info(self) -> dict[str, Any]:
        return {**super().info(), "library": {k: v for k, v in self.worker.hello.items()
                                              if k != "ok"},
                "learner": self.learner, "options": self.options,
                "own_schedule": self.own_schedule}

    def close(self) -> None:
        self.worker.close()


def _learner(key: str, doc: str, copies: int = 1, exemplars: bool = True) -> type:
    return type(f"Avalanche_{key}", (AvalancheLearner,), {
        "name": key, "learner": key, "param_copies": copies, "uses_exemplars": exemplars,
        "__doc__": doc})


Naive = _learner("naive", "fine-tuning on each task only (the lower bound)", exemplars=False)
Replay = _learner("replay", "experience-balanced replay buffer of a fixed total")
ICaRL = _learner("icarl", "iCaRL: herding exemplars, distillation, nearest-mean classifier")
GDumb = _learner("gdumb", "GDumb: a class-balanced buffer, retrained from scratch each task")
LwF = _learner("lwf", "Learning without Forgetting: distillation, no exemplars",
               exemplars=False)
EWC = _learner("ewc", "online EWC: weights + importances + anchor (3 copies), no exemplars",
               copies=3, exemplars=False)
