"""`memeval reproduce RUN [--out NEW]`: rerun a run's recorded configuration into a new folder
and say which metrics moved beyond the original's 95% CI (the reproducibility check)."""

from __future__ import annotations

import argparse
import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from memeval.records import utcnow
from memeval.runfolder import RunFolder, write_json_atomic


class MetricCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str
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


def check(original: dict[str, Any], rerun: dict[str, Any]) -> list[MetricCheck]:
    from memeval.report import headline_ci

    out = []
    for name, entry in original.get("metrics", {}).items():
        if "overall" not in entry:
            continue
        o = entry["overall"].get("all") or {}
        r = ((rerun.get("metrics", {}).get(name) or {}).get("overall") or {}).get("all") or {}
        om, rm, ci = o.get("mean"), r.get("mean"), headline_ci(o)
        if om is None or rm is None:
            differs = om != rm
        elif ci is not None:
            differs = not (ci[0] - 1e-12 <= rm <= ci[1] + 1e-12)
        else:
            differs = not math.isclose(om, rm, abs_tol=1e-12)
        out.append(MetricCheck(metric=name, original=om, original_ci=ci, rerun=rm,
                               differs=differs))
    return out


def _llm_spec(manifest: Any) -> str | None:
    """Where the original run's LLM was: None = the embedded server (started again)."""
    llm = manifest.llm or {}
    if not llm or str(llm.get("identity", "")).startswith("embedded:"):
        return None
    if llm.get("backend") == "openai":
        return f"openai:{llm.get('model')}"
    return f"{llm.get('base_url')}::{llm.get('model')}"


def reproduce(run: Path, out: Path | None, args: argparse.Namespace) -> Reproduction:
    from memeval.cli import err, open_llm
    from memeval.runner import JobSpec, Runner

    folder = RunFolder(run).require()
    m = folder.manifest()
    cfg = m.config
    spec = JobSpec(task=cfg["task"], system=cfg["system"], task_options=cfg["task_options"],
                   system_options=cfg["system_options"], seed=cfg["seed"], limit=cfg["limit"],
                   judge=cfg.get("judge"), suite=m.suite)
    out = out or folder.path.parent / f"{folder.path.name}__repro"
    if out.resolve() == folder.path.resolve():
        from memeval.errors import UserError
        raise UserError("--out must be a new folder, not the original run")
    if not args.llm:
        args.llm = _llm_spec(m)
    from memeval import registry

    needs_llm = bool(getattr(registry.resolve("task", spec.task), "needs_llm", True))
    with ExitStack() as stack:  # packs that train their own models start no server (as `run`)
        llm = open_llm(args, stack, log_dir=out.parent) if needs_llm or args.llm else None
        ident = llm.identity if llm is not None else None
        if ident != cfg.get("llm"):
            err.print(f"[yellow]warning: the answer LLM differs from the original "
                      f"({ident} vs {cfg.get('llm')}); results may legitimately move")
        spec.concurrency = llm.max_connections if llm is not None else 1
        err.print(f"reproducing {folder.path} -> {out}")
        new = Runner(llm, err).run(spec, out, ["memeval", "reproduce", str(run), "--out", str(out)])
    rep = Reproduction(original=str(folder.path), rerun=str(new.path), created=utcnow(),
                       llm_identity_original=cfg.get("llm"), llm_identity_rerun=ident,
                       checks=check(folder.metrics(), new.metrics()))
    write_json_atomic(new.path / "reproduction.json", rep.model_dump(mode="json"))
    return rep


def register(sub: Any) -> None:
    from memeval.cli import _llm_args

    p = sub.add_parser("reproduce", help="rerun a run's configuration into a new folder and "
                                         "report metrics that differ beyond their CIs (exit 1)")
    p.add_argument("run", type=Path)
    p.add_argument("--out", type=Path, metavar="NEW", help="new run folder "
                   "(default: RUN__repro beside the original)")
    _llm_args(p)
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from rich.table import Table

    from memeval.cli import console

    rep = reproduce(args.run, args.out, args)
    t = Table(title=f"reproduction of {rep.original} -> {rep.rerun} ('all' estimator, x100)",
              title_justify="left")
    for col in ("metric", "original", "original 95% CI", "rerun", "within CI"):
        t.add_column(col)
    pct = (lambda x: "-" if x is None else f"{100 * x:.2f}")
    for c in rep.checks:
        ci = f"[{pct(c.original_ci[0])}, {pct(c.original_ci[1])}]" if c.original_ci else "-"
        t.add_row(c.metric, pct(c.original), ci, pct(c.rerun),
                  "[red]NO[/]" if c.differs else "yes")
    console.print(t)
    if rep.differing:
        console.print(f"differ beyond the original CI: {', '.join(rep.differing)}")
        return 1
    console.print("all metrics within the original CIs")
    return 0
