"""The worker process of a memory system that lives in its own environment (slm, graphiti,
memos): started on first use and again after a death. A death is counted (`worker.died`) and
fails the call that meets it, with the worker's log tail; the next call gets a fresh worker on
the same store, so a run goes on (and resumes) past it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memeval.adapters.memory.base import FailureCounter
from memeval.jsonworker import JsonWorker, WorkerError


class WorkerSeat:
    def __init__(self, launch: Callable[[], JsonWorker], label: str, failures: FailureCounter,
                 after: Callable[[], None] | None = None) -> None:
        self.launch = launch
        self.label = label  # "Graphiti worker", ... (in the error a death raises)
        self.failures = failures
        self.after = after  # checked after each answer, e.g. the LLM proxy's outage flag
        self.worker: JsonWorker | None = None
        self.versions: dict[str, Any] = {}

    def start(self) -> None:
        self.worker = self.launch()
        self.versions = {k: v for k, v in self.worker.hello.items() if k != "ok"}

    def ask(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.worker is not None and not self.worker.alive:  # it died between two calls
            self.failures.add("worker.died")
            code, tail = self.worker.returncode, self.worker.tail()
            self.close()
            raise WorkerError(f"{self.label} exited (code {code}); {tail}")
        if self.worker is None:
            self.start()  # first use, or after a death: a fresh worker on the same store
        assert self.worker is not None
        try:
            res = self.worker.ask(req)
        except WorkerError:
            if not self.worker.alive:
                self.failures.add("worker.died")
                self.close()
            raise
        if self.after is not None:
            self.after()
        return res

    def failure_counts(self) -> tuple[dict[str, int], dict[str, str]]:
        """This side's counts plus what the live worker counted, and its examples."""
        counts = self.failures.snapshot()
        examples: dict[str, str] = {}
        if self.worker is not None and self.worker.alive:
            got = self.ask({"op": "info"})
            examples = dict(got.get("examples") or {})
            for kind, n in got["failures"].items():
                counts[kind] = counts.get(kind, 0) + n
        return counts, examples

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None
