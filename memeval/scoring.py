"""Scoring a run folder from what it stores: judge verdicts already in verdicts.jsonl are kept,
missing ones are judged (and written as they come), then item scores and the typed results
are recomputed and written. `memeval run` and `memeval score` both end here, so the results
file has exactly one writer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memeval.aio import completed
from memeval.artifacts import check, seal
from memeval.audit import JUDGE_VERDICT, RUN_RESCORE, AuditLog, last_seal, verify
from memeval.contracts import Results
from memeval.errors import UserError
from memeval.records import Prediction, Score, Verdict
from memeval.runfolder import RUN_FORMAT, JsonlWriter, RunFolder
from memeval.run_context import RunContext


def complete_batches(verdicts: list[Verdict]) -> list[Verdict]:
    """Verdicts are written per prediction as one batch (`batch` = its size): a batch cut short
    by a killed run is dropped and judged again (its calls are cache hits)."""
    counts: dict[str, int] = defaultdict(int)
    for v in verdicts:
        counts[v.prediction_id] += 1
    return [v for v in verdicts if v.batch is None or counts[v.prediction_id] == v.batch]


def stored_verdicts(folder: RunFolder, task: Any, rejudge: bool) -> list[Verdict]:
    """The verdicts to keep: none on --rejudge; a format-1 run's are read from its scores.jsonl
    (the task converts them) and written to verdicts.jsonl once."""
    if rejudge:
        folder.write_verdicts([])
        return []
    if not folder.verdicts_path.exists() and folder.manifest().format < RUN_FORMAT:
        legacy = task.legacy_verdicts(folder.scores(repair=True))
        folder.write_verdicts(legacy)
        return legacy
    return complete_batches(folder.verdicts(repair=True))


def will_judge(task: Any, ctx: RunContext) -> bool:
    if ctx.judge is None or not task.judges:
        return False
    if ctx.judge not in task.judges:
        raise UserError(f"task {task.name} has no judge {ctx.judge!r}; its judges: "
                        f"{', '.join(task.judges)}")
    return ctx.judge != "llm" or ctx.llm is not None


async def judge_missing(folder: RunFolder, task: Any, preds: Sequence[Prediction],
                        kept: list[Verdict], ctx: RunContext, progress: Any = None) -> None:
    """Judge every prediction without verdicts; each batch is written (and audited) at once."""
    judged = {v.prediction_id for v in kept}
    todo = [p for p in preds if p.sample_id not in judged]
    writer = JsonlWriter(folder.verdicts_path)
    bar = progress.add_task("judging", total=len(todo)) if progress is not None and todo else None

    async def one(pred: Prediction) -> list[Verdict]:
        out = await task.judge(pred, ctx)
        out = [v.model_copy(update={"batch": len(out)}) for v in out]
        if out:
            writer.write_many(out)
            if ctx.audit is not None:
                ctx.audit.emit(JUDGE_VERDICT, "judge", {
                    "sample_id": pred.sample_id, "judges": sorted({v.judge for v in out}),
                    "n": len(out), "invalid": sum(not v.valid for v in out)})
        if bar is not None:
            progress.advance(bar)
        return out

    try:
        async for got in completed((one(p) for p in todo), ctx.concurrency):
            kept.extend(got)
    finally:
        writer.close()


def rebuild(folder: RunFolder, task: Any, preds: Sequence[Prediction],
            verdicts: Sequence[Verdict]) -> Results:
    """Item scores and results from predictions and verdicts: deterministic, no LLM."""
    by_pred: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_pred[v.prediction_id].append(v)
    # Sorted, so metrics do not depend on the order in which samples finished (float sums).
    scores: list[Score] = sorted((s for p in preds for s in task.score(p, by_pred[p.sample_id])),
                                 key=lambda s: (s.sample_id, s.metric))
    folder.write_scores(scores)
    agg = task.aggregate(scores, preds, folder.path)
    # declared metrics without items (judged ones count only when the run judged)
    absent = [m.name for m in task.metric_specs()
              if m.name not in agg.metrics and (verdicts or not m.judged)]
    results = Results(
        task=task.name, task_version=task.version, clusters=task.cluster_name,
        metrics=agg.metrics, no_items=absent, conventions=agg.conventions,
        judges=sorted({v.judge for v in verdicts}), notes=agg.notes, card=list(task.card),
        known_defects=task.known_defects, plots=[_relative(p, folder.path) for p in agg.plots],
        details=agg.details)
    folder.write_results(results)
    return results


async def score_run(folder: RunFolder, task: Any, ctx: RunContext, *, judge: bool,
                    progress: Any = None, rejudge: bool = False) -> Results:
    preds = folder.predictions()
    ordered = [preds[k] for k in sorted(preds)]
    verdicts = stored_verdicts(folder, task, rejudge)
    if judge and will_judge(task, ctx):
        await judge_missing(folder, task, ordered, verdicts, ctx, progress)
    results = rebuild(folder, task, ordered, verdicts)
    m = folder.manifest()
    if m.format < RUN_FORMAT:  # a format-1 folder is format 2 once re-scored
        m.format = RUN_FORMAT
        folder.write_manifest(m)
    return results


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:  # a plots_dir outside the run folder: kept as given
        return str(path)


def guard_rescore(folder: RunFolder, rewrites: frozenset[str]) -> None:
    """Before `memeval score` rewrites `rewrites`: the chain must be intact and every other
    artifact as sealed, or re-scoring would seal over an edit."""
    log = folder.audit_path
    if not log.exists():
        return  # no log to extend: a new one starts (e.g. a folder copied without its log)
    res = verify(log, folder.manifest().audit_tail or None)
    if not res.ok:
        raise UserError(f"{log}: {res.reason}; refusing to re-score over a broken audit trail")
    sealed = last_seal(log)
    problem = check(folder.path, sealed[1], skip=rewrites) if sealed else None
    if problem:
        raise UserError(f"{folder.path}: {problem} since the seal at audit line {sealed[0]}; "
                        "refusing to re-score (it would seal the edit)")


def reseal(folder: RunFolder, payload: dict[str, Any]) -> None:
    """Append run.rescore with the new checksums and move the manifest's audit tail to it."""
    log = AuditLog(folder.audit_path)
    try:
        log.emit(RUN_RESCORE, "memeval.scoring", {**payload, "checksums_sha256": seal(folder.path)})
        tail = log.tail
    finally:
        log.close()
    m = folder.manifest()
    m.audit_tail = tail
    folder.write_manifest(m)
