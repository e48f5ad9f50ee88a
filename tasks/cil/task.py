"""Class-incremental learning under aligned memory budgets (Zhou et al., ICLR 2023: "A Model
or 603 Exemplars"): the MEMO pack.

A sample is one class order (a seed; one cluster) at one budget point of the ladder; the
learner (a `continual-learner` system) gets the backbone and exemplar count that fill that
point's bytes (tasks/cil/budget.py), learns the tasks one by one and, after every task, is
scored top-1 on the test images of all classes seen. After every task the runner, not the
learner, checks `memory_bytes()` against the budget: a learner over it fails the sample with
the numbers. Where a learner's parameters alone exceed a point (EWC at small budgets), the
point is infeasible for it: recorded with the reason, never run over budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.aggregate import summarize_metrics
from memeval.contracts import Aggregate, MetricSpec, OptionSpec, SystemKind
from memeval.errors import UserError
from memeval.metrics import cil as m
from memeval.records import Prediction, Sample, Score, Verdict
from memeval.taskbase import TaskBase
from memeval.tasks.cil import backbones
from memeval.tasks.cil import data as cildata
from memeval.tasks.cil.budget import MIB, Infeasible, der_budget, plan_for
from memeval.tasks.cil.summary import summarize_ladder

_CFG = {"strata": ("budget",), "overall": False, "family": "capacity"}
METRICS = (
    MetricSpec(name="average_accuracy", **_CFG,
               description="mean over stages of top-1 on all classes seen so far"),
    MetricSpec(name="last_accuracy", **_CFG, description="top-1 on all classes, last stage"),
    MetricSpec(name="forgetting", higher_is_better=False, **_CFG,
               description="mean over tasks but the last of best - final accuracy"),
    MetricSpec(name="memory_used", unit="MiB", higher_is_better=False, **_CFG,
               description="bytes counted at the last stage (parameters + exemplars)"),
)
# digits: the top backbone (mlp32, 4,192 parameters = 262 digit images) keeps the smallest
# point above one full backbone, so every single-backbone learner fits every point but EWC
# (3 copies); 10 base exemplars per class (CIFAR-100's 2000 is 20 per class of 500 images,
# digits have ~135 per class)
DEFAULTS = {"digits": {"ladder": "mlp8;mlp12;mlp16;mlp24;mlp32", "init": 2, "increment": 2,
                       "base_exemplars": 100, "epochs": 15, "lr": 0.05, "batch_size": 32},
            "cifar100": {"ladder": "resnet8;resnet14;resnet20;resnet26;resnet32", "init": 10,
                         "increment": 10, "base_exemplars": 2000, "epochs": 30, "lr": 0.1,
                         "batch_size": 128}}
OPTIONS = (
    OptionSpec(name="dataset", default="digits", choices=tuple(DEFAULTS),
               help="digits: scikit-learn's bundled 8x8 digits; cifar100: --data DIR"),
    OptionSpec(name="data", flag="--data", help="folder of CIFAR-100 (python version)"),
    OptionSpec(name="ladder", help="budget points: backbones of the DER reference, smallest "
               "first; the last is the full-size backbone of single-backbone learners "
               "(digits mlp8..mlp32, cifar100 resnet8..resnet32)"),
    OptionSpec(name="orders", type="int", default=10, help="class orders (seeds, clusters)"),
    OptionSpec(name="init", type="int", help="classes in the first task (B)"),
    OptionSpec(name="increment", type="int", help="classes per later task (Inc)"),
    OptionSpec(name="base_exemplars", type="int", help="the DER reference's exemplars "
               "(digits 100, 10 per class; cifar100 2000)"),
    OptionSpec(name="epochs", type="int"),
    OptionSpec(name="lr", type="float"),
    OptionSpec(name="batch_size", type="int"),
    OptionSpec(name="count_teacher", type="bool", default=False,
               help="count a distillation teacher (LwF, iCaRL) in the budget"),
    OptionSpec(name="plots_dir", help="where plots go (default: <run folder>/plots)"),
)


class CILTask(TaskBase):
    name: ClassVar[str] = "cil"
    version: ClassVar[str] = "1.0"
    summary: ClassVar[str] = "class-incremental learning under aligned memory budgets (MEMO)"
    system_kind: ClassVar[SystemKind] = "continual-learner"
    needs_llm: ClassVar[bool] = False
    cluster_name: ClassVar[str] = "class order"
    options: ClassVar[tuple[OptionSpec, ...]] = OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    smoke: ClassVar[dict[str, Any]] = {
        "options": {"ladder": "mlp8;mlp16", "orders": 2, "epochs": 2}, "system": "memo"}

    def __init__(self, limit: int | None = None, seed: int = 0, dataset: str = "digits",
                 data: str | None = None, ladder: str | None = None, orders: int = 10,
                 init: int | None = None, increment: int | None = None,
                 base_exemplars: int | None = None, epochs: int | None = None,
                 lr: float | None = None, batch_size: int | None = None,
                 count_teacher: bool = False, plots_dir: str | None = None) -> None:
        d = DEFAULTS[dataset]
        self.limit, self.seed, self.dataset, self.data_dir = limit, int(seed), dataset, data
        self.ladder = [x.strip() for x in str(ladder or d["ladder"]).replace(",", ";")
                       .split(";") if x.strip()]
        try:
            self.counts = {b: backbones.split_counts(b) for b in self.ladder}
        except ValueError as e:
            raise UserError(f"cil: ladder: {e}") from None
        if len(self.ladder) < 1:
            raise UserError("cil: the ladder needs at least one backbone")
        self.orders = int(orders)
        self.init = int(init or d["init"])
        self.increment = int(increment or d["increment"])
        self.base = int(base_exemplars if base_exemplars is not None else d["base_exemplars"])
        self.epochs, self.lr = int(epochs or d["epochs"]), float(lr or d["lr"])
        self.batch_size = int(batch_size or d["batch_size"])
        self.count_teacher = bool(count_teacher)
        self.plots_dir = Path(plots_dir) if plots_dir else None
        self.pool = load_pool(dataset, data)
        self.n_tasks = len(data_split(self.pool.n_classes, self.init, self.increment))
        self.image_bytes = int(np.prod(self.pool.image_shape))
        self.infeasible: list[str] = []

    def config(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "ladder": self.ladder, "orders": self.orders,
                "init": self.init, "increment": self.increment, "tasks": self.n_tasks,
                "base_exemplars": self.base, "image_bytes": self.image_bytes,
                "epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                "count_teacher": self.count_teacher, "limit": self.limit,
                "budgets_bytes": {b: self.budget(b) for b in self.ladder}}

    def data_info(self) -> dict[str, Any]:
        return {"source": self.pool.source, "license": self.pool.license, "sha256": None,
                "train": len(self.pool.y_train), "test": len(self.pool.y_test)}

    def budget(self, point: str) -> int:
        return der_budget(sum(self.counts[point]), self.n_tasks, self.image_bytes, self.base)

    def samples(self) -> Iterator[Sample]:
        n = min(self.orders, self.limit) if self.limit is not None else self.orders
        for point in self.ladder:
            for i in range(n):
                yield Sample(sample_id=f"{point}/order{i:02d}", cluster=f"order{i:02d}",
                             group=point, input={"point": point, "order": i})

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: Any) -> AsyncIterator[Prediction]:
        for s in samples:
            meta, err = await asyncio.to_thread(self.run_sample, system, s)
            yield Prediction(sample_id=s.sample_id, cluster=s.cluster, task=self.name,
                             system=ctx.system_name, meta=meta, error=err,
                             output=meta.get("summary"))

    def run_sample(self, system: Any, s: Sample) -> tuple[dict[str, Any], str | None]:
        """One class order at one budget point: (prediction meta, error or None)."""
        point, i = s.input["point"], int(s.input["order"])
        order_seed = self.seed * 1000 + i
        own = getattr(system, "own_schedule", {}) or {}  # a learner's own epochs=/lr=
        plan = plan_for(system.name, system.architecture, system.param_copies,
                        system.uses_exemplars, point, self.ladder[-1], self.counts,
                        self.n_tasks, self.image_bytes, self.base,
                        n_classes=self.pool.n_classes, increment=self.increment,
                        image_shape=self.pool.image_shape, pixel_max=self.pool.pixel_max,
                        seed=order_seed, epochs=int(own.get("epochs", self.epochs)),
                        lr=float(own.get("lr", self.lr)),
                        batch_size=self.batch_size, count_teacher=self.count_teacher)
        base = {"point": point, "order": i, "budget_bytes": self.budget(point),
                "budget_mib": self.budget(point) / MIB}
        if isinstance(plan, Infeasible):
            return {**base, "infeasible": plan.reason(), "summary": "infeasible"}, None
        order = cildata.class_order(self.pool.n_classes, order_seed)
        exps = cildata.stream(self.pool, data_split(self.pool.n_classes, self.init,
                                                 self.increment), order)
        system.begin(plan)
        stage_acc, task_acc, memory, seconds = [], [], [], []
        for exp in exps:
            t0 = time.perf_counter()
            system.learn(exp)
            seconds.append(time.perf_counter() - t0)
            parts = system.memory_parts()
            memory.append(parts)
            if parts["counted_bytes"] > plan.budget_bytes:  # the runner's check, every task
                return ({**base, "plan": plan.model_dump(), "memory": memory},
                        f"over budget after task {exp.index + 1}: {system.name} stores "
                        f"{parts['counted_bytes']:,} B > budget {plan.budget_bytes:,} B "
                        f"({parts['parameter_bytes']:,} B parameters + "
                        f"{parts['exemplar_bytes']:,} B in {parts['exemplars']} exemplars)")
            seen = exps[:exp.index + 1]
            x, y = cildata.test_set(self.pool, order, sum(len(e.classes) for e in seen))
            pred = np.asarray(system.predict(x))
            stage_acc.append(float(np.mean(pred == y)))
            task_acc.append([float(np.mean(pred[np.isin(y, e.classes)] == y[np.isin(y, e.classes)]))
                             for e in seen])
        summary = f"average {m.average_incremental(stage_acc):.3f}, last {stage_acc[-1]:.3f}"
        return {**base, "plan": plan.model_dump(), "stage_accuracy": stage_acc,
                "task_accuracy": task_acc, "memory": memory, "seconds": seconds,
                "summary": summary, "system_info": system.info() if i == 0 else None}, None

    # ---- scoring ----
    def score(self, pred: Prediction, verdicts: Sequence[Verdict] = ()) -> list[Score]:
        strata = {"budget": str(pred.meta.get("point", pred.sample_id.split("/")[0]))}
        names = [s.name for s in METRICS]
        if pred.meta.get("infeasible"):
            return []  # not run: listed in the aggregate's notes with the reason
        if pred.error is not None:
            return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=n, value=None,
                          strata=strata) for n in names]
        acc = pred.meta["stage_accuracy"]
        values = {"average_accuracy": m.average_incremental(acc), "last_accuracy": m.last(acc),
                  "forgetting": m.forgetting(pred.meta["task_accuracy"]),
                  "memory_used": pred.meta["memory"][-1]["counted_bytes"] / MIB}
        return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=n, value=v,
                      strata=strata) for n, v in values.items()]

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        metrics = summarize_metrics(self.metrics, scores)
        ladder = summarize_ladder(predictions, self.ladder)
        notes = [f"budget points (DER reference: T={self.n_tasks} backbones + {self.base} "
                 f"exemplars of {self.image_bytes} B): " + ", ".join(
                     f"{b} {self.budget(b) / MIB:.3f} MiB" for b in self.ladder),
                 "memory counts 4 B per stored parameter (saved and expanded blocks, EWC's "
                 "copies) and H*W*C B per exemplar; the head is excluded; a distillation "
                 "teacher is " + ("counted" if self.count_teacher else "not counted"),
                 "AUC: trapezoid over the budget points in MiB, accuracy as a fraction"]
        notes += [f"infeasible: {r}" for r in ladder.get("infeasible", [])]
        if ladder.get("auc"):
            a = ladder["auc"]
            notes.append(f"AUC-A {_ci_text(a['auc_a'])}, AUC-L {_ci_text(a['auc_l'])} "
                         f"(MiB x fraction) over {a['orders']} class orders")
        plots = []
        out = self.plots_dir or (Path(run_dir) / "plots" if run_dir else None)
        if out is not None and ladder.get("points"):
            from memeval.tasks.cil.plots import plot_ladder

            plots.append(plot_ladder({predictions[0].system if predictions else "?": ladder},
                                     out / "cil_ladder.png"))
        return Aggregate(metrics=metrics, notes=notes, plots=plots, details={"cil": ladder})

    @classmethod
    def across_runs(cls, run_dirs: Sequence[Path], out_dir: Path) -> list[str]:
        from memeval.tasks.cil.summary import across

        return across(run_dirs, out_dir)


def _ci_text(e: dict[str, Any]) -> str:
    ci = e.get("ci")
    return f"{e['mean']:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")


def load_pool(dataset: str, folder: str | None) -> cildata.Pool:
    return cildata.digits() if dataset == "digits" else cildata.cifar100(folder)


def data_split(n_classes: int, init: int, increment: int) -> list[tuple[int, ...]]:
    """Tasks as positions in the class order: labels are remapped to order of appearance
    (PyCIL's convention; Avalanche's iCaRL assumes it)."""
    return cildata.split_tasks(list(range(n_classes)), init, increment)
