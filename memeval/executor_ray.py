"""The Ray executor (`memeval run --executor ray`): a job's pending samples fan out as one Ray
task per `Sample.group` (a conversation, a user: what a system ingests once).

Each task rebuilds the task, the system and an LLM client from the job's spec in its worker, runs
its group, and returns the predictions and the audit events the group produced, in order. The
driver (the `memeval run` process) stays the only writer of predictions.jsonl and the audit
chain, and writes a group when its task finishes. A worker that dies is retried by Ray
(`MAX_RETRIES`); since only returned groups are written, a retry duplicates nothing and loses
nothing. A killed driver resumes as with the local executor (the written groups are skipped)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rich.console import Console

from memeval.audit import AuditLog
from memeval.contracts import SystemContext
from memeval.errors import UserError
from memeval.progress import progress
from memeval.records import Prediction, Sample
from memeval.run_context import RunContext
from memeval.runfolder import JsonlWriter, RunFolder
from memeval.runner import (JobSpec, drive_group, groups_of, make_system, make_task, safe_close,
                            safe_info, write_prediction)

MAX_RETRIES = 3  # times Ray reruns a group whose worker process died (not a Python exception)
INSTALL = "pip install 'memeval[ray]' (ray[default]==2.60.0), or bash scripts/setup.sh --extra ray"


def require_ray() -> Any:
    """The ray module, or one clear UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


@dataclass(frozen=True)
class ClientSpec:
    """How the driver's LLM client was built, so a worker builds the same one. The endpoint's
    URL must be reachable from the workers (a local cluster reaches the driver's embedded
    server at 127.0.0.1); the cache file is shared through SQLite's WAL mode."""

    endpoint: Any  # memeval.endpoint.Endpoint (a dataclass: pickles as it is)
    cache_path: str | None
    max_connections: int
    retries: int
    timeout_s: float
    backoff_s: float
    seed: int | None

    @classmethod
    def of(cls, llm: Any) -> ClientSpec | None:
        if llm is None:
            return None
        cache = str(llm.cache.path) if llm.cache is not None else None
        return cls(llm.endpoint, cache, llm.max_connections, llm.retries, llm.timeout_s,
                   llm.backoff_s, llm.seed)

    def open(self) -> Any:
        from memeval.llm import LLMClient
        from memeval.llm_cache import ResponseCache

        cache = ResponseCache(self.cache_path) if self.cache_path else None
        return LLMClient(self.endpoint, cache=cache, max_connections=self.max_connections,
                         timeout_s=self.timeout_s, retries=self.retries,
                         backoff_s=self.backoff_s, seed=self.seed)


@dataclass(frozen=True)
class Shard:
    """One Ray task's input: everything a worker needs, nothing it cannot pickle."""

    job: JobSpec
    group: str
    items: list[Sample]
    client: ClientSpec | None
    storage_dir: str  # the system's private folder for this shard (workers run side by side)
    run_dir: str
    cwd: str  # the driver's: relative paths in the job's options mean what they meant there


Record = tuple[str, Any]  # ("prediction", Prediction) or ("event", (kind, actor, payload))


@dataclass
class ShardResult:
    records: list[Record]  # in the order the group produced them
    usage: dict[str, Any] = field(default_factory=dict)  # the worker ledger's by_caller
    failures: dict[str, int] = field(default_factory=dict)  # the system's internal_failures
    fatal: UserError | None = None  # an outage or user error: written up to it, then raised


class _Recorder:
    """Stands in for the AuditLog in a worker: keeps the group's events, in order, for the
    driver to append to the one chain (where they are redacted, hashed and replay-marked)."""

    secrets: list[str] = []  # RunContext redacts with these; the driver's log redacts for real

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def emit(self, kind: str, actor: str, payload: dict[str, Any] | None = None) -> None:
        self.records.append(("event", (kind, actor, dict(payload or {}))))


def run_shard(shard: Shard) -> ShardResult:
    """The Ray task body (runs in a worker process): one group of one job."""
    if os.path.isdir(shard.cwd):
        os.chdir(shard.cwd)
    records: list[Record] = []
    client = shard.client.open() if shard.client is not None else None
    system = None
    try:
        job = shard.job
        task = make_task(job)
        sctx = SystemContext(storage_dir=Path(shard.storage_dir), llm=client, seed=job.seed,
                             caller=f"system:{job.system}")
        system = make_system(job, sctx)
        # no earlier events here: the driver marks replays as it appends (RunContext.emit)
        ctx = RunContext(llm=client, seed=job.seed, concurrency=job.concurrency,
                         audit=_Recorder(records), system_name=job.system, judge=job.judge,
                         run_dir=Path(shard.run_dir))
        fatal: UserError | None = None
        try:
            asyncio.run(drive_group(task, system, shard.group, shard.items, ctx,
                                    lambda pred: records.append(("prediction", pred))))
        except UserError as e:  # EndpointDown included: the run stops after this group's part
            fatal = e
        failures = dict(safe_info(system).get("internal_failures") or {})
        usage = dict(client.ledger.by_caller) if client is not None else {}
        return ShardResult(records, usage, failures, fatal)
    finally:
        if system is not None:
            safe_close(system, Console(stderr=True))  # a warning, in the driver's log via Ray
        if client is not None:
            client.close()


def merge_usage(ledger: Any, usage: dict[str, Any]) -> None:
    """Add a worker's per-caller usage to the driver's ledger (the manifest's cost). Counts
    and seconds add, latency lists concatenate. The driver makes no LLM call meanwhile."""
    for caller, theirs in usage.items():
        mine = ledger.by_caller.setdefault(caller, type(theirs)())
        for f in fields(theirs):
            setattr(mine, f.name, getattr(mine, f.name) + getattr(theirs, f.name))


def shard_dir(storage: Path, group: str) -> Path:
    """A private store folder per group: copies of a system run side by side in workers, and a
    library's store files (SQLite, Kuzu, Chroma) must not be opened by two processes."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", group)[:48]
    return storage / "shards" / f"{safe}-{hashlib.sha256(group.encode()).hexdigest()[:8]}"


def _failed(shard: Shard, task_name: str, system: str, error: str) -> ShardResult:
    preds = [Prediction(sample_id=s.sample_id, cluster=s.cluster, task=task_name, system=system,
                        reference=s.reference, error=error) for s in shard.items]
    return ShardResult([("prediction", p) for p in preds])


class RayExecutor:
    """Runner executor (memeval.runner.Executor) over a Ray cluster ray.init has joined."""

    def __init__(self, ray: Any, console: Console) -> None:
        self.ray = ray
        self.console = console
        self._remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(run_shard)

    async def generate(self, spec: JobSpec, task: Any, pending: list[Sample], ctx: RunContext,
                       folder: RunFolder, audit: AuditLog, failures: Counter[str]) -> None:
        client, storage = ClientSpec.of(ctx.llm), folder.path / "systems" / spec.system
        queue = [Shard(spec, g, items, client, str(shard_dir(storage, g)), str(folder.path),
                       os.getcwd()) for g, items in groups_of(pending).items()]
        window = max(1, spec.concurrency)  # groups in flight, as --concurrency locally
        self.console.print(f"ray: {len(queue)} group(s) as Ray tasks, {window} at a time")
        writer = JsonlWriter(folder.predictions_path)
        running: dict[Any, Shard] = {}
        try:
            with progress(self.console) as prog:
                bar = prog.add_task(f"{task.name} x {spec.system} (ray)", total=len(pending))
                while queue or running:
                    while queue and len(running) < window:
                        shard = queue.pop(0)
                        running[self._remote.remote(shard)] = shard
                    # bounded waits: an interrupted run is not held up by a blocked thread
                    ready, _ = await asyncio.to_thread(self.ray.wait, list(running),
                                                       num_returns=1, timeout=1.0)
                    if not ready:
                        continue
                    shard = running.pop(ready[0])
                    res = self._result(ready[0], shard, task.name)
                    for kind, item in res.records:  # the group's own order
                        if kind == "prediction":
                            write_prediction(writer, audit, item)
                            prog.advance(bar)
                        else:
                            ctx.emit(*item)
                    if ctx.llm is not None:
                        merge_usage(ctx.llm.ledger, res.usage)
                    failures.update(res.failures)
                    if res.fatal is not None:
                        raise res.fatal
        finally:  # groups still running are dropped unwritten: a resume runs them again
            for ref in running:
                self.ray.cancel(ref, force=True)
            writer.close()

    def _result(self, ref: Any, shard: Shard, task_name: str) -> ShardResult:
        exc = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except exc.RayTaskError as e:  # the task body raised (building the task or system)
            cause = e.cause if isinstance(e.cause, BaseException) else e
            if isinstance(cause, UserError):
                raise cause from None
            return _failed(shard, task_name, shard.job.system,
                           f"{type(cause).__name__}: {cause}")
        except exc.RayError as e:  # its worker died MAX_RETRIES + 1 times, or it was lost
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            return _failed(shard, task_name, shard.job.system,
                           f"{type(e).__name__}: {first} (after {MAX_RETRIES} retries)")


@contextmanager
def ray_executor(address: str | None, num_cpus: int, console: Console) -> Iterator[RayExecutor]:
    """Join the Ray cluster at `address` (or $RAY_ADDRESS), else start a local one with
    `num_cpus` CPUs (one per group in flight); shut it down afterwards."""
    ray = require_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=max(1, num_cpus), include_dashboard=False,
                     logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise UserError(f"--executor ray: cannot start or join {where}: {e}") from None
    try:
        yield RayExecutor(ray, console)
    finally:
        ray.shutdown()
