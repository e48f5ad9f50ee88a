"""Rerunning a run's recorded configuration into a new folder and saying which metrics moved
beyond the original's 95% CI (the reproducibility check behind `memeval reproduce`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from memeval import registry
from memeval.contracts import Results
from memeval.errors import UserError
from memeval.fileio import write_json_atomic
from memeval.llm_open import LLMOptions, open_llm
from memeval.records import RunManifest, utcnow
from memeval.runfolder import RunFolder
from memeval.runner import JobSpec, Runner


class MetricCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str
    unit: str = ""  # "" = a fraction (shown x100)
    original: float | None
    original_ci: tuple[float, float] | None
    rerun: float | None
    differs: bool  # rerun estimate outside the original CI (or, without a CI, not equal)


class Reproduction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original: str
    rerun: str
    created: str
    llm_identity_original: str | None
    llm_identity_rerun: str | None
    estimator: str = "all (invalid = 0), overall"
    checks: list[MetricCheck]

    @property
    def differing(self) -> list[str]:
        return [c.metric for c in self.checks if c.differs]


def check(original: Results, rerun: Results) -> list[MetricCheck]:
    out = []
    for name, entry in original.metrics.items():
        if entry.overall is None:
            continue
        o = entry.overall.all
        again = rerun.metrics.get(name)
        r = again.overall.all if again is not None and again.overall is not None else None
        om, rm, ci = o.mean, (r.mean if r is not None else None), o.ci
        if om is None or rm is None:
            differs = om != rm
        elif ci is not None:
            differs = not (ci[0] - 1e-12 <= rm <= ci[1] + 1e-12)
        else:
            differs = not math.isclose(om, rm, abs_tol=1e-12)
        out.append(MetricCheck(metric=name, unit=entry.spec.unit, original=om, original_ci=ci,
                               rerun=rm,
                               differs=differs))
    return out


def llm_spec(manifest: RunManifest) -> str | None:
    """Where the original run's LLM was: None = the embedded server (started again)."""
    llm = manifest.llm or {}
    if not llm or str(llm.get("identity", "")).startswith("embedded:"):
        return None
    if llm.get("backend") == "openai":
        return f"openai:{llm.get('model')}"
    return f"{llm.get('base_url')}::{llm.get('model')}"


def reproduce(run: Path, out: Path | None, opts: LLMOptions, console: Any,
              warn: Callable[[str], None]) -> Reproduction:
    folder = RunFolder(run).require()
    m = folder.manifest()
    cfg = m.config
    spec = JobSpec(task=cfg["task"], system=cfg["system"], task_options=cfg["task_options"],
                   system_options=cfg["system_options"], seed=cfg["seed"], limit=cfg["limit"],
                   judge=cfg.get("judge"), suite=m.suite)
    out = out or folder.path.parent / f"{folder.path.name}__repro"
    if out.resolve() == folder.path.resolve():
        raise UserError("--out must be a new folder, not the original run")
    opts = replace(opts, spec=opts.spec or llm_spec(m))
    needs_llm = bool(registry.resolve("task", spec.task).needs_llm)
    with ExitStack() as stack:  # packs that train their own models start no server (as `run`)
        llm = open_llm(opts, stack, log_dir=out.parent, notify=warn) \
            if needs_llm or opts.spec else None
        ident = llm.identity if llm is not None else None
        if ident != cfg.get("llm"):
            warn(f"[yellow]warning: the answer LLM differs from the original "
                 f"({ident} vs {cfg.get('llm')}); results may legitimately move")
        spec.concurrency = llm.max_connections if llm is not None else 1
        warn(f"reproducing {folder.path} -> {out}")
        new = Runner(llm, console).run(spec, out, ["memeval", "reproduce", str(run), "--out",
                                                   str(out)])
    was, now = ((mf.task.get("data") or {}).get("sha256") for mf in (m, new.manifest()))
    if was != now:
        warn(f"[yellow]warning: the data file changed since the original run (sha256 {was} "
             f"-> {now}); results may legitimately move")
    rep = Reproduction(original=str(folder.path), rerun=str(new.path), created=utcnow(),
                       llm_identity_original=cfg.get("llm"), llm_identity_rerun=ident,
                       checks=check(folder.results(), new.results()))
    write_json_atomic(new.path / "reproduction.json", rep.model_dump(mode="json"))
    return rep
