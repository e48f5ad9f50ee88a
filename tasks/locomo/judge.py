"""The LLM judge J (A-Mem's and Mem0's harnesses): CORRECT or WRONG per answer, repeated
`judge_runs` times; and the leniency check (deliberately vague wrong answers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memeval.judging import Ruling, ask_json, label_parser
from memeval.records import Prediction, Score, Verdict
from memeval.tasks.locomo import prompts

LABELS = ("CORRECT", "WRONG")
JUDGED = ("llm_judge", "judge_leniency")


async def judge_answer(pred: Prediction, ctx: Any, *, judge_categories: set[int],
                       judge_runs: int, leniency: bool) -> list[Verdict]:
    ref = pred.reference
    cat = int(ref["category"])
    if ctx.judge != "llm" or cat not in judge_categories or ref["answer"] is None:
        return []
    answers: dict[str, str | None] = {"llm_judge": pred.output if pred.error is None else None}
    if leniency:
        answers["judge_leniency"] = prompts.VAGUE[cat]  # a lenient judge calls this CORRECT
    out = []
    for metric, answer in answers.items():
        for r in range(judge_runs):
            if answer is None:
                ruling = Ruling(valid=False, judge=ctx.llm.identity, reason="no prediction")
            else:
                ruling = await ask_json(
                    ctx.llm, prompts.judge_messages(ref["question"], ref["answer"], answer),
                    prompts.JUDGE_SCHEMA, label_parser("label", LABELS), max_tokens=24,
                    retry_temperature=0.5, cache_scope=f"{pred.sample_id}/{metric}/run{r}")
            out.append(ruling.verdict(pred.sample_id, metric, metric, repeat=r))
    return out


def judged_scores(pred: Prediction, verdicts: Iterable[Verdict], strata: dict[str, str]
                  ) -> list[Score]:
    """Per judged metric: the share of valid runs labelled CORRECT (None: no valid run)."""
    out = []
    for metric in JUDGED:
        runs = [v for v in verdicts if v.kind == metric]
        if not runs:
            continue
        valid = [v.label for v in runs if v.valid]
        value = sum(lab == "CORRECT" for lab in valid) / len(valid) if valid else None
        out.append(Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=metric,
                         value=value, strata=strata))
    return out


def legacy_verdicts(scores: Iterable[Score]) -> list[Verdict]:
    """Format-1 runs kept J as a score row with its labels in `detail`."""
    rows = [s for s in scores if s.metric in JUDGED]
    known = next((str(s.detail["judge"]) for s in rows if "judge" in s.detail), "unknown")
    out = []
    for s in rows:
        judge = str(s.detail.get("judge", known))
        labels = s.detail.get("labels")
        if not isinstance(labels, list):  # "no prediction": one invalid run
            out.append(Verdict(prediction_id=s.sample_id, item=s.metric, kind=s.metric,
                               judge=judge, valid=False, reason=s.detail.get("reason")))
            continue
        out += [Verdict(prediction_id=s.sample_id, item=s.metric, kind=s.metric, repeat=r,
                        judge=judge, valid=lab in LABELS, label=lab if lab in LABELS else None)
                for r, lab in enumerate(labels)]
    return out
