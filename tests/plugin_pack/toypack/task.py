"""`toy-recall`: facts "<name> likes <thing>" in one session per user, then one question per
fact; the answer is the best memory's last word. No LLM: a deterministic `rule` judge gives the
judged metric, so every step of the contract runs offline in seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from memeval.contracts import Aggregate, CardRow, MetricSpec, OptionSpec
from memeval.judging import Ruling
from memeval.records import Prediction, Sample, Score, Session, Turn, Verdict
from memeval.taskbase import TaskBase

THINGS = ["tea", "chess", "rain", "jazz", "maps", "figs"]


class ToyRecallTask(TaskBase):
    name: ClassVar[str] = "toy-recall"
    version: ClassVar[str] = "0.1"
    summary: ClassVar[str] = "toy plug-in pack: recall of liked things"
    needs_llm: ClassVar[bool] = False
    judges: ClassVar[tuple[str, ...]] = ("rule",)
    cluster_name: ClassVar[str] = "user"
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec(name="users", type="int", default=6, flag="--toy-users", help="users"),)
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(name="hit", strata=("thing",), description="answer equals the fact"),
        MetricSpec(name="miss_rate", higher_is_better=False, family="faithfulness",
                   description="no answer at all"),
        MetricSpec(name="judged_hit", judged=True, description="the rule judge says CORRECT"),
    )
    card: ClassVar[tuple[CardRow, ...]] = (
        CardRow(field="refusal", metric="miss_rate", note="toy: answers left empty"),)
    known_defects: ClassVar[str] = "none: generated"
    smoke: ClassVar[dict[str, Any]] = {"system": "toy-mem", "judge": "rule"}

    def __init__(self, users: int = 6, limit: int | None = None, seed: int = 0) -> None:
        self.users, self.limit = int(users), limit

    def config(self) -> dict[str, Any]:
        return {"users": self.users, "limit": self.limit}

    def data_info(self) -> dict[str, Any]:
        return {"path": None, "sha256": "toy", "license": "CC0", "source": "generated"}

    def facts(self, u: int) -> list[tuple[str, str]]:
        return [(f"user{u}", THINGS[(u + j) % len(THINGS)]) for j in range(3)]

    def samples(self) -> Iterator[Sample]:
        n = 0
        for u in range(self.users):
            for j, (who, thing) in enumerate(self.facts(u)):
                if self.limit is not None and n >= self.limit:
                    return
                n += 1
                yield Sample(sample_id=f"u{u}/q{j}", cluster=f"u{u}", group=str(u),
                             input={"query": f"{who} fact {j}"}, reference={"answer": thing})

    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: Any) -> AsyncIterator[Prediction]:
        u = int(group)
        turns = [Turn(speaker=who, text=f"{who} fact {j} likes {thing}")
                 for j, (who, thing) in enumerate(self.facts(u))]
        await ctx.call_system(system.reset, group)
        mems, _ = await ctx.call_system(system.add, group, Session(session_id=group, turns=turns))
        ctx.log_memories(group, mems)
        for s in samples:
            hits, _ = await ctx.call_system(system.search, group, s.input["query"], 1)
            answer = hits[0].text.split()[-1] if hits else ""
            yield Prediction(sample_id=s.sample_id, cluster=s.cluster, task=self.name,
                             system=ctx.system_name, output=answer, retrieved=hits,
                             reference=s.reference)

    async def judge(self, pred: Prediction, ctx: Any) -> list[Verdict]:
        ok = (pred.output or "") == pred.reference["answer"]
        return [Ruling(valid=True, judge="toy-rule-v1", label="CORRECT" if ok else "WRONG")
                .verdict(pred.sample_id, "answer", "judged_hit")]

    def score(self, pred: Prediction, verdicts: Sequence[Verdict]) -> list[Score]:
        out = pred.output if pred.error is None else None
        thing = {"thing": pred.reference["answer"]}
        mk = (lambda m, v, **st: Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=m,
                                       value=v, strata=st))
        scores = [mk("hit", None if out is None else float(out == pred.reference["answer"]),
                     **thing),
                  mk("miss_rate", None if out is None else float(out == ""))]
        scores += [mk("judged_hit", float(v.label == "CORRECT") if v.valid else None)
                   for v in verdicts]
        return scores

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        agg = super().aggregate(scores, predictions, run_dir)
        agg.notes.append(f"toy: {len(predictions)} questions")
        return agg
