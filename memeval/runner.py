"""Runs one (task, system, seed) job into a run folder: resumable, audited, never losing results."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from memeval import __version__, registry
from memeval.aio import completed
from memeval.artifacts import seal
from memeval.audit import AuditLog
from memeval.contracts import SystemContext, provides
from memeval.errors import EndpointDown, UserError, unknown_name
from memeval.manifest import config_sha256, git_info, machine_info, package_versions
from memeval.progress import progress
from memeval.records import Prediction, RunManifest, Sample, utcnow
from memeval.redact import env_secrets, redact
from memeval.run_context import RunContext, logged_memory_events
from memeval.runfolder import RUN_FORMAT, JsonlWriter, RunFolder
from memeval.scoring import score_run

KIND_WORDS = {"memory": "a memory system", "trainable": "a trainable model",
              "language-model": "a language model", "continual-learner": "a continual learner"}


@dataclass
class JobSpec:
    task: str
    system: str
    task_options: dict[str, Any] = field(default_factory=dict)
    system_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    limit: int | None = None
    judge: str | None = None
    concurrency: int = 1
    suite: str | None = None

    def config(self, llm_identity: str | None) -> dict[str, Any]:
        """Everything that changes results (concurrency does not)."""
        return {"task": self.task, "task_options": self.task_options, "system": self.system,
                "system_options": self.system_options, "seed": self.seed, "limit": self.limit,
                "judge": self.judge, "llm": llm_identity}

    def default_out(self, root: Path) -> Path:
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.system_options.items()))
        name = f"{self.task}__{self.system}{'-' + opts if opts else ''}__s{self.seed}"
        if self.limit is not None:
            name += f"__n{self.limit}"
        return root / re.sub(r"[^A-Za-z0-9_.,=+-]", "_", name)


def task_options(cls: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The options as the task declares them (typed), or a UserError naming the nearest one."""
    declared = {o.name: o for o in cls.options}
    out = {}
    for key, value in given.items():
        if key not in declared:
            raise UserError(f"task {cls.name!r}: {unknown_name('option', key, declared)}")
        out[key] = declared[key].coerce(value, cls.name)
    return out


def make_task(spec: JobSpec) -> Any:
    cls = registry.resolve("task", spec.task)
    return cls(limit=spec.limit, seed=spec.seed, **task_options(cls, spec.task_options))


def check_pairing(task_cls: Any, spec: JobSpec) -> None:
    """A task drives one kind of system (its declared protocol): refuse any other up front."""
    sys_cls, _ = registry.resolve_system(spec.system, spec.system_options)
    want, got = task_cls.system_kind, getattr(sys_cls, "kind", None)
    if not provides(got, want):
        raise UserError(f"task {spec.task!r} drives {KIND_WORDS.get(want, want)}; system "
                        f"{spec.system!r} is {KIND_WORDS.get(str(got), str(got))} "
                        "(see `memeval ls systems`)")


def make_system(spec: JobSpec, sctx: SystemContext) -> Any:
    cls, options = registry.resolve_system(spec.system, spec.system_options)
    params = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        bad = [k for k in options if k not in params]
        if bad:
            valid = [p for p in params if p not in ("self", "ctx")]
            raise UserError(f"system {spec.system!r}: unknown option(s) {', '.join(bad)}; "
                            f"valid: {', '.join(valid)}")
    return cls(sctx, **options)


def groups_of(pending: list[Sample]) -> OrderedDict[str, list[Sample]]:
    """Samples by `Sample.group` (what a system ingests once), in data order: the unit both
    executors run, and the Ray executor's shard."""
    groups: OrderedDict[str, list[Sample]] = OrderedDict()
    for s in pending:
        groups.setdefault(s.group, []).append(s)
    return groups


async def drive_group(task: Any, system: Any, group: str, items: list[Sample], ctx: RunContext,
                      emit: Callable[[Prediction], None]) -> None:
    """One group through the task's protocol, each prediction handed to `emit` as it exists; a
    group-level failure fails the samples it had not answered. Outages and user errors stop the
    run (they would fail every group alike)."""
    written: set[str] = set()
    try:
        async for pred in task.run_group(system, group, items, ctx):
            emit(pred)
            written.add(pred.sample_id)
    except (EndpointDown, UserError, asyncio.CancelledError):
        raise
    except Exception as e:  # a group-level failure fails its unanswered samples
        err = f"{type(e).__name__}: {e}"
        for s in items:
            if s.sample_id not in written:
                emit(Prediction(sample_id=s.sample_id, cluster=s.cluster, task=task.name,
                                system=ctx.system_name, reference=s.reference, error=err))


def write_prediction(writer: JsonlWriter, audit: AuditLog, pred: Prediction) -> None:
    writer.write(pred)
    if pred.error is not None:
        audit.emit("sample.error", "runner", {"sample_id": pred.sample_id, "error": pred.error})


class Executor(Protocol):
    """Runs a job's pending groups elsewhere (memeval.executor_ray) and writes what comes back
    through `write_prediction` and `ctx.emit`: the runner's process stays the only writer.
    `failures` gathers the internal failures the systems it ran counted."""

    async def generate(self, spec: JobSpec, task: Any, pending: list[Sample], ctx: RunContext,
                       folder: RunFolder, audit: AuditLog, failures: Counter[str]) -> None: ...


class Runner:
    def __init__(self, llm: Any, console: Console | None = None,
                 executor: Executor | None = None):
        self.llm = llm
        self.console = console or Console(stderr=True)
        self.executor = executor  # None: groups run here, as asyncio tasks

    def run(self, spec: JobSpec, out: Path, command: list[str]) -> RunFolder:
        return asyncio.run(self._run(spec, out, command))

    async def _run(self, spec: JobSpec, out: Path, command: list[str]) -> RunFolder:
        if self.llm is not None:
            from memeval.llm import Ledger
            self.llm.ledger = Ledger()  # cost is per job, even when jobs share one client
        task = make_task(spec)
        check_pairing(type(task), spec)
        samples = list(task.samples())
        ident = self.llm.identity if self.llm is not None else None
        config = spec.config(ident)
        data = task.data_info()
        config["data_sha256"] = data.get("sha256")
        folder = RunFolder(out)
        resuming = folder.exists()
        if resuming and folder.manifest().config_sha256 != config_sha256(config):
            raise UserError(f"{out} holds a run with a different configuration; "
                            "pass another --out (or delete the folder) to start afresh")
        folder.path.mkdir(parents=True, exist_ok=True)
        secrets = env_secrets() + ([self.llm.endpoint.api_key] if self.llm is not None
                                   and self.llm.endpoint.api_key else [])
        audit = AuditLog(folder.audit_path, secrets=secrets, repair_torn_tail=True)
        done = folder.compact_predictions() if resuming else {}
        pending = [s for s in samples if s.sample_id not in done]
        if self.llm is not None and (pending or spec.judge):
            self.llm.models_sync()  # fail fast, with one clear message, if the server is down
        sctx = SystemContext(storage_dir=folder.path / "systems" / spec.system, llm=self.llm,
                             seed=spec.seed, caller=f"system:{spec.system}")
        system = make_system(spec, sctx)
        manifest = self._manifest(folder, spec, task, system, config, command, resuming)
        folder.write_manifest(manifest)
        audit.emit("run.resume" if resuming else "run.start", "runner",
                   {"run_id": manifest.run_id, "samples": len(samples), "done": len(done),
                    "pending": len(pending), "config_sha256": manifest.config_sha256})
        ctx = RunContext(llm=self.llm, seed=spec.seed, concurrency=spec.concurrency, audit=audit,
                         system_name=spec.system, judge=spec.judge, run_dir=folder.path,
                         earlier_memory_events=logged_memory_events(folder.audit_path)
                         if resuming else Counter())
        status = "aborted"
        worker_failures: Counter[str] = Counter()
        try:
            if self.executor is None:
                await self._generate(task, system, pending, ctx, folder, audit)
            elif pending:
                await self.executor.generate(spec, task, pending, ctx, folder, audit,
                                             worker_failures)
            with progress(self.console) as prog:
                await score_run(folder, task, ctx, judge=spec.judge is not None, progress=prog)
            status = "complete"
            return folder
        finally:
            system_info = safe_info(system)
            if worker_failures:  # counted by the copies of the system the workers ran
                here = Counter(system_info.get("internal_failures") or {})
                system_info["internal_failures"] = dict(here + worker_failures)
            safe_close(system, self.console)
            preds = folder.predictions()
            counts = {"samples": len(samples), "predictions": len(preds),
                      "errors": sum(p.error is not None for p in preds.values()),
                      "internal_failures": system_info.get("internal_failures", {})}
            cost = self.llm.ledger.summary() if self.llm is not None else {}
            manifest.status, manifest.finished = status, utcnow()
            manifest.counts, manifest.cost = counts, cost
            manifest.system = {**manifest.system, "info": system_info}
            folder.write_manifest(manifest)  # all but the audit tail, which run.end moves
            # run.end seals every artifact: an edit to any file is found by `audit verify`
            tail = audit.run_end({"status": status, **counts,
                                  "checksums_sha256": seal(folder.path)})
            audit.close()
            manifest.audit_tail = tail or {}
            folder.write_manifest(manifest)

    async def _generate(self, task: Any, system: Any, pending: list[Sample], ctx: RunContext,
                        folder: RunFolder, audit: AuditLog) -> None:
        if not pending:
            return
        writer = JsonlWriter(folder.predictions_path)
        with progress(self.console) as prog:
            bar = prog.add_task(f"{task.name} x {ctx.system_name}", total=len(pending))
            ctx.progress = prog

            def emit(pred: Prediction) -> None:
                write_prediction(writer, audit, pred)
                prog.advance(bar)

            try:  # an endpoint failure in one group cancels the others before the writer closes
                async for _ in completed((drive_group(task, system, g, it, ctx, emit)
                                          for g, it in groups_of(pending).items()),
                                         ctx.concurrency):
                    pass
            finally:
                writer.close()
                ctx.progress = None

    def _manifest(self, folder: RunFolder, spec: JobSpec, task: Any, system: Any,
                  config: dict[str, Any], command: list[str], resuming: bool) -> RunManifest:
        if resuming:
            m = folder.manifest()
            m.status, m.finished, m.format = "running", None, RUN_FORMAT
            return m
        secrets = env_secrets()
        return RunManifest(
            run_id=folder.path.name, command=redact(command, secrets), config=config,
            config_sha256=config_sha256(config), suite=spec.suite,
            task={"name": task.name, "version": task.version, "options": task.config(),
                  "data": task.data_info()},
            system={"name": spec.system, "version": system.version, "kind": system.kind,
                    "options": spec.system_options},
            llm=self.llm.endpoint.public() if self.llm is not None else {},
            setting=system.setting,  # the three-setting protocol: declared by the system
            seed=spec.seed, git=git_info(), packages=package_versions(), machine=machine_info(),
            memeval_version=__version__, format=RUN_FORMAT)


def safe_info(system: Any) -> dict[str, Any]:
    try:
        return dict(system.info())
    except Exception as e:  # reported, not hidden: info is provenance, not a result
        return {"info_error": f"{type(e).__name__}: {e}"}


def safe_close(system: Any, console: Console) -> None:
    try:
        system.close()
    except Exception as e:  # reported, but must not mask the run's own outcome
        console.print(f"[yellow]warning: closing the system failed: {type(e).__name__}: {e}")
