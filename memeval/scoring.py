"""Scoring a run folder from its stored predictions: deterministic metrics are recomputed,
judge verdicts already stored are kept, missing ones are judged (and written as they come)."""

from __future__ import annotations

from typing import Any

from memeval.aio import completed
from memeval.context import RunContext
from memeval.records import Score
from memeval.runfolder import JsonlWriter, RunFolder


async def score_run(folder: RunFolder, task: Any, ctx: RunContext, *, judge: bool,
                    progress: Any = None, rejudge: bool = False) -> dict[str, Any]:
    preds = folder.predictions()
    judge_names = set(task.judge_metrics())
    kept = [] if rejudge else [s for s in folder.scores(repair=True) if s.metric in judge_names]
    fresh = [s for p in preds.values() for s in task.score(p)]
    folder.write_scores(fresh + kept)
    kept = _complete_batches(kept)
    if judge and (ctx.llm is not None or ctx.judge == "exact") and judge_names:
        judged = {s.detail.get("prediction_id", s.sample_id) for s in kept}
        todo = [p for p in preds.values() if p.sample_id not in judged]
        writer = JsonlWriter(folder.scores_path)
        bar = progress.add_task("judging", total=len(todo)) if progress is not None else None

        async def one(pred: Any) -> list[Score]:
            out = await task.judge(pred, ctx)
            writer.write_many(out)
            if bar is not None:
                progress.advance(bar)
            return out

        try:
            async for got in completed((one(p) for p in todo), ctx.concurrency):
                kept.extend(got)
        finally:
            writer.close()
    # Sorted, so metrics do not depend on the order in which samples finished (float sums).
    scores = sorted(fresh + kept, key=lambda s: (s.sample_id, s.metric))
    ordered = [preds[k] for k in sorted(preds)]
    return {"task": task.name, "task_version": task.version,
            **task.aggregate(scores, predictions=ordered)}


def _complete_batches(scores: list[Score]) -> list[Score]:
    """Verdicts written per prediction as a batch (detail: prediction_id, batch): a batch cut
    short by a killed run is dropped and judged again (its calls are cache hits)."""
    counts: dict[str, int] = {}
    for s in scores:
        if "batch" in s.detail:
            counts[s.detail["prediction_id"]] = counts.get(s.detail["prediction_id"], 0) + 1
    return [s for s in scores if "batch" not in s.detail
            or counts[s.detail["prediction_id"]] == s.detail["batch"]]
