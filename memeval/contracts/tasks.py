"""The task-pack contract. A pack declares what it measures and how it may be configured; the
engine (runner, scoring, CLI) drives it through these methods and nothing else.

Scoring has three steps so that `memeval score` can redo the cheap ones: `judge` turns a
prediction into judge verdicts (LLM calls: stored and reused), `score` turns a prediction and
its verdicts into item-level scores (deterministic), `aggregate` turns scores into the declared
metrics. `memeval.taskbase.TaskBase` gives defaults for everything optional."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from memeval.contracts.metrics import MetricSpec
from memeval.contracts.results import CardRow, MetricEntry
from memeval.contracts.systems import SystemKind
from memeval.errors import UserError
from memeval.records import Memory, Prediction, Sample, Score, Verdict

T = TypeVar("T")
OptionType = Literal["int", "float", "str", "bool"]


class OptionSpec(BaseModel):
    """One task option (`--task NAME:key=value`, a suite's `options:`, or `flag` on `memeval
    run`). Every option is a keyword argument of the task's constructor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: OptionType = "str"
    default: Any = None
    help: str = ""
    flag: str | None = None  # e.g. "--limit-sessions": a `memeval run` flag that sets it
    choices: tuple[Any, ...] | None = None
    # A system option the pack lets users set through its flag (infocap's --backend): it goes
    # to the system's options, not to the task's constructor.
    system_option: bool = False

    def coerce(self, value: Any, task: str) -> Any:
        """The value as the declared type; a UserError naming task and option otherwise."""
        if value is None:
            return None
        try:
            value = _convert(self.type, value)
        except (TypeError, ValueError):
            raise UserError(f"task {task}: option {self.name}={value!r} must be {self.type}"
                            + (f" ({self.help})" if self.help else "")) from None
        if self.choices is not None and value not in self.choices:
            raise UserError(f"task {task}: option {self.name}={value!r}; valid: "
                            + ", ".join(map(str, self.choices)))
        return value


def _convert(kind: str, value: Any) -> Any:
    if kind == "str":
        return value if isinstance(value, str) else ",".join(map(str, value)) \
            if isinstance(value, (list, tuple)) else str(value)
    if isinstance(value, str):
        value = value.strip()
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    return float(value)


@dataclass
class Aggregate:
    """A task's aggregate: its metrics, and the lines, plots and tables it adds."""

    metrics: dict[str, MetricEntry]
    conventions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TaskContext(Protocol):
    """What `run_group` and `judge` receive (memeval.run_context.RunContext)."""

    llm: Any  # memeval.llm.LLMClient, or None for tasks that call no LLM
    seed: int
    concurrency: int
    judge: str | None  # the judge kind of this run ("llm", "exact"...) or None
    system_name: str
    run_dir: Path | None

    def phase(self, label: str, total: int) -> Callable[[], None]: ...
    async def call_system(self, fn: Callable[..., T], *args: Any) -> tuple[T, float]: ...
    def log_memories(self, ns: str, memories: list[Memory]) -> None: ...


@runtime_checkable
class Task(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]
    summary: ClassVar[str]
    system_kind: ClassVar[SystemKind]  # the system protocol it drives
    needs_llm: ClassVar[bool]  # an LLM endpoint is started for answers or judges
    judges: ClassVar[tuple[str, ...]]  # judge kinds offered ("llm", "exact"); () = none
    options: ClassVar[tuple[OptionSpec, ...]]
    card: ClassVar[tuple[CardRow, ...]]  # evaluation-card rows filled from its metrics
    known_defects: ClassVar[str]  # of its data, for the evaluation card
    cluster_name: ClassVar[str]  # what one cluster is (conversation, user, person...)
    smoke: ClassVar[dict[str, Any]]  # a seconds-long config: {"options", "system", "judge"}

    def metric_specs(self) -> list[MetricSpec]: ...
    def config(self) -> dict[str, Any]: ...  # the options as used (the manifest records them)
    def data_info(self) -> dict[str, Any]: ...  # path, sha256, license, source
    def samples(self) -> Iterator[Sample]: ...

    def run_group(self, system: Any, group: str, samples: list[Sample],
                  ctx: TaskContext) -> AsyncIterator[Prediction]: ...

    async def judge(self, pred: Prediction, ctx: TaskContext) -> list[Verdict]: ...
    def score(self, pred: Prediction, verdicts: Sequence[Verdict]) -> list[Score]: ...
    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate: ...
    def legacy_verdicts(self, scores: Iterable[Score]) -> list[Verdict]: ...
