"""Defaults for the optional parts of the task contract (memeval.contracts.Task). A pack may
subclass `TaskBase` or implement the protocol itself; the engine never checks which."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from memeval.aggregate import summarize_metrics
from memeval.contracts import (Aggregate, CardRow, MetricSpec, OptionSpec, PlanContext,
                               PlanCounts, SystemKind)
from memeval.records import Prediction, Sample, Score, Verdict


class TaskBase:
    summary: ClassVar[str] = ""
    system_kind: ClassVar[SystemKind] = "memory"
    needs_llm: ClassVar[bool] = True
    judges: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[OptionSpec, ...]] = ()
    card: ClassVar[tuple[CardRow, ...]] = ()
    known_defects: ClassVar[str] = ""
    cluster_name: ClassVar[str] = "cluster"
    smoke: ClassVar[dict[str, Any]] = {}
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()

    def metric_specs(self) -> list[MetricSpec]:
        """The declared metrics (`metrics`); override where options change the list."""
        return list(self.metrics)

    async def judge(self, pred: Prediction, ctx: Any) -> list[Verdict]:
        return []

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        return Aggregate(metrics=summarize_metrics(self.metric_specs(), scores))

    @classmethod
    def across_runs(cls, run_dirs: Sequence[Path], out_dir: Path) -> list[str]:
        """What a suite's several runs of this task show together (a series plot, a table),
        written under `out_dir`; lines to print. Called by `memeval run --suite` at its end."""
        return []

    def plan(self, samples: Sequence[Sample], ctx: PlanContext) -> PlanCounts:
        """What a run over `samples` would call (`memeval run --plan`), counted without running:
        a pack that drives a system or an LLM overrides it; this default knows only the samples."""
        return PlanCounts(samples=len(samples), clusters=len({s.cluster for s in samples}),
                          notes=[f"{getattr(self, 'name', 'this task')} declares no plan: "
                                 "calls are not predicted"])

    def legacy_verdicts(self, scores: Iterable[Score]) -> list[Verdict]:
        """Verdicts from a format-1 scores.jsonl (memeval 0.1), for packs that judged then."""
        return []


class TrainedModelTask(TaskBase):
    """Shared parts of the parametric packs (capacity, rrr): trainable systems, no LLM, no judge,
    plots in <run folder>/plots."""

    system_kind: ClassVar[SystemKind] = "trainable"
    needs_llm: ClassVar[bool] = False
    plots_dir: Path | None = None

    def resolve_plots_dir(self, run_dir: Path | None) -> Path | None:
        return self.plots_dir or (Path(run_dir) / "plots" if run_dir else None)
