"""The protocols tasks and systems implement. Adapters subclass nothing; they match these."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from memeval.records import Memory, Prediction, Sample, Score, Session


@runtime_checkable
class MemorySystem(Protocol):
    """An external/agent memory. The harness writes answers itself, so systems compare on memory.

    Methods are synchronous (most memory libraries are); the runner calls them in threads.
    `add` returns what this call created or changed, as the system itself reports it.
    """

    name: ClassVar[str]
    version: ClassVar[str]

    def reset(self, ns: str) -> None: ...
    def add(self, ns: str, session: Session) -> list[Memory]: ...
    def search(self, ns: str, query: str, k: int) -> list[Memory]: ...
    def close(self) -> None: ...
    def info(self) -> dict[str, Any]: ...  # options, library versions, internal-failure counts


class Task(Protocol):
    """A task pack: samples, the pack's own protocol for driving a system, and scorers."""

    name: ClassVar[str]
    version: ClassVar[str]

    def data_info(self) -> dict[str, Any]: ...  # path, sha256, license
    def samples(self) -> Iterator[Sample]: ...

    def run_group(self, system: MemorySystem, group: str, samples: list[Sample],
                  ctx: Any) -> AsyncIterator[Prediction]: ...

    def score(self, pred: Prediction) -> list[Score]: ...  # deterministic metrics only
    def judge_metrics(self) -> list[str]: ...  # metrics that need an LLM judge

    async def judge(self, pred: Prediction, ctx: Any) -> list[Score]: ...
    def aggregate(self, scores: Iterable[Score]) -> dict[str, Any]: ...


class TrainedModelTask:
    """Shared parts of the parametric packs (capacity, rrr): no judge, plots in the run folder."""

    plots_dir: Path | None = None
    _run_dir: Path | None = None

    def judge_metrics(self) -> list[str]:
        return []

    async def judge(self, pred: Prediction, ctx: Any) -> list[Score]:
        return []

    def resolve_plots_dir(self, run_dir: str | Path | None) -> Path | None:
        """`plots_dir` if set, else <run folder>/plots (the folder comes as `run_dir`, or from
        the RunContext seen by this process's run_group)."""
        run_dir = run_dir or self._run_dir
        return self.plots_dir or (Path(run_dir) / "plots" if run_dir else None)


class LLMServer(Protocol):
    """An LLM server memeval starts itself (registry.SERVERS): built as
    `cls(model_path_or_None, port=..., log_path=...)` (None: the server's default model),
    started, reached through `endpoint()`, stopped with the run."""

    url: str
    proc: Any  # the server's process while it runs, else None

    def start(self, timeout_s: float = ..., notify: Any = None) -> "LLMServer": ...
    def endpoint(self) -> Any: ...  # memeval.endpoint.Endpoint, identity without the port
    def stop(self) -> None: ...
