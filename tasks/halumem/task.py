"""The HaluMem pack (official data) and halumem-synth (memeval's generated data, same protocol).

Sample = one session of one user (cluster = user). Its prediction holds what the system
extracted, the update searches and the QA answers; judging turns it into verdicts (one per gold
point, extracted memory, update and question), written per session as one batch; scoring turns
each verdict into the items of the metrics it enters (memeval.tasks.halumem.metrics).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from memeval.contracts import (Aggregate, CardRow, MetricSpec, OptionSpec, PlanContext,
                               PlanCounts)
from memeval.errors import UserError
from memeval.fileio import sha256_file
from memeval.records import Prediction, Sample, Score, Verdict
from memeval.run_context import RunContext
from memeval.taskbase import TaskBase
from memeval.tasks.halumem import declarations as D
from memeval.tasks.halumem import judges, loader, protocol, synth
from memeval.tasks.halumem import plan as planning
from memeval.tasks.halumem.aggregate import aggregate
from memeval.tasks.halumem.metrics import (RECORDS, AccuracyRecord, IntegrityRecord, QARecord,
                                           UpdateRecord, items, route_points)
from memeval.tasks.halumem.schema import User


class HaluMemTask(TaskBase):
    name: ClassVar[str] = "halumem"
    # 1.1: deleted memories count as extracted, is_included by the official rule, F1 0 at P+R=0
    version: ClassVar[str] = "1.1"
    summary: ClassVar[str] = ("HaluMem extraction/update/QA hallucination (official JSONL via "
                              "--data or hub)")
    license: ClassVar[str] = "CC BY-NC-ND 4.0"
    cluster_name: ClassVar[str] = "user"
    judges: ClassVar[tuple[str, ...]] = ("llm", "exact")
    options: ClassVar[tuple[OptionSpec, ...]] = D.OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = D.METRICS
    card: ClassVar[tuple[CardRow, ...]] = D.CARD
    known_defects: ClassVar[str] = D.KNOWN_DEFECTS
    smoke: ClassVar[dict[str, Any]] = {
        "options": {"data": "../shared/data/halumem/HaluMem-Medium-user-4fd09df4.jsonl",
                    "limit_sessions": 1, "answerer": "oracle"},
        "system": "rag-bm25", "judge": "exact"}

    def __init__(self, data: str | None = None, limit: int | None = None,
                 limit_sessions: int | None = None, users: int | None = None,
                 answer_max_tokens: int = 48, judge_layout: str = "shared_prefix",
                 answerer: str = "llm", seed: int = 0, hub: str | None = None,
                 deleted_memories: str = "count") -> None:
        self.limit, self.limit_sessions, self.max_users = limit, limit_sessions, users
        self.deleted_memories = deleted_memories
        self.answerer = answerer
        self.answer_max_tokens = int(answer_max_tokens)
        self.judge_layout = judge_layout
        self.path = self._resolve_data(data, hub, seed)
        self._users: dict[str, User] = {}

    def _resolve_data(self, data: str | None, hub: str | None, seed: int) -> Path:
        if data:
            return Path(data)
        if hub or os.environ.get("MEMEVAL_HALUMEM_HUB"):
            return loader.hub_path(hub or os.environ["MEMEVAL_HALUMEM_HUB"])
        raise UserError("HaluMem needs its data: download HaluMem-Medium.jsonl or "
                        "HaluMem-Long.jsonl from the Hugging Face dataset IAAR-Shanghai/HaluMem "
                        "and pass --data PATH (or, online, --task halumem:hub=medium); offline, "
                        "run the same protocol on generated data with --suite halumem-synth")

    def config(self) -> dict[str, Any]:
        return {"limit": self.limit, "limit_sessions": self.limit_sessions,
                "users": self.max_users, "answer_max_tokens": self.answer_max_tokens,
                "judge_layout": self.judge_layout, "answerer": self.answerer,
                "deleted_memories": self.deleted_memories}

    def data_info(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": sha256_file(self.path),
                "license": self.license, "source": "Hugging Face IAAR-Shanghai/HaluMem"}

    def users(self) -> Iterator[User]:
        for n, user in enumerate(loader.load_users(self.path)):
            if self.max_users is not None and n >= self.max_users:
                return
            self._users[user.uuid] = user
            yield user

    def user(self, uuid: str) -> User:
        if uuid not in self._users:
            for _ in self.users():
                pass
        return self._users[uuid]

    def samples(self) -> Iterator[Sample]:
        n = 0
        for user in self.users():
            for i, hs in enumerate(user.sessions[:self.limit_sessions]):
                if self.limit is not None and n >= self.limit:
                    return
                n += 1
                yield Sample(sample_id=f"{user.uuid}/s{i:03d}", cluster=user.uuid,
                             group=user.uuid, input={"session": i},
                             reference={"user": user.uuid, "session": i,
                                        "distractor": hs.is_distractor})

    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: RunContext) -> AsyncIterator[Prediction]:
        async for pred in protocol.run_user(self, system, self.user(group), samples, ctx,
                                            self.answer_max_tokens):
            yield pred

    def plan(self, samples: Sequence[Sample], ctx: PlanContext) -> PlanCounts:
        return planning.plan(self, samples, ctx)

    # ---- judging and scoring ----
    def _judge(self, ctx: RunContext) -> Any:
        if ctx.judge == "exact":
            return judges.ExactJudge()
        return judges.LLMJudge(ctx.llm, layout=self.judge_layout)  # type: ignore[arg-type]

    async def judge(self, pred: Prediction, ctx: Any) -> list[Verdict]:
        if pred.error is not None or pred.meta.get("distractor"):
            return []
        user = self.user(pred.reference["user"])
        i = pred.reference["session"]
        hs = user.sessions[i]
        j = self._judge(ctx)
        extracted: list[str] = pred.meta["extracted"]
        hits = {int(k): v for k, v in pred.meta.get("update_hits", {}).items()}
        to_integrity, to_update = route_points(hs.memory_points, hits)
        out: list[Verdict] = []
        sid, uid = pred.sample_id, user.uuid
        # Accuracy calls first and back to back: they share the session dialogue as a prefix.
        for m, mem in enumerate(extracted):
            r = await j.accuracy(hs.dialogue, hs.gold_points, mem)
            out.append(r.verdict(sid, f"m{m}", "accuracy",
                                 about=AccuracyRecord.of(uid, i, r).model_dump()))
        for p in to_integrity:
            r = await j.integrity(extracted, p)
            out.append(r.verdict(sid, f"p{p.index}", "integrity",
                                 about=IntegrityRecord.of(uid, i, p, r).model_dump()))
        for p in to_update:
            r = await j.update(hits[p.index], p)
            out.append(r.verdict(sid, f"u{p.index}", "update",
                                 about=UpdateRecord.of(uid, i, p, r).model_dump()))
        for qa, q in zip(pred.meta.get("qa", []), hs.questions):
            r = await j.qa(q, qa["response"])
            rec = QARecord(user=uid, session=i, question_type=q.question_type,
                           difficulty=q.difficulty, label=r.label if r.valid else None)
            out.append(r.verdict(sid, f"q{qa['i']}", "qa", about=rec.model_dump()))
        return out

    def score(self, pred: Prediction, verdicts: Sequence[Verdict]) -> list[Score]:
        out: list[Score] = []
        for v in verdicts:
            rec = RECORDS[v.kind].model_validate(
                {k: v.fields[k] for k in RECORDS[v.kind].model_fields if k in v.fields})
            out += [s.model_copy(update={"detail": {"reason": v.reason}} if v.reason else {})
                    for s in items(rec, f"{pred.sample_id}/{v.item}", pred.sample_id)]
        return out

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        return aggregate(self.metric_specs(), scores, predictions)

    def legacy_verdicts(self, scores: Iterable[Score]) -> list[Verdict]:
        """Format-1 runs kept each verdict as a score row with its record in `detail`."""
        out = []
        for s in scores:
            d = s.detail
            if s.metric not in RECORDS or "record" not in d:
                continue
            rec = d["record"]
            out.append(Verdict(
                prediction_id=str(d["prediction_id"]), item=s.sample_id.rsplit("/", 1)[1],
                kind=s.metric, judge=str(d.get("judge")), valid=s.value is not None,
                label=rec.get("label"), score=rec.get("score"), fields=rec,
                reason=d.get("reason"), cached=bool(d.get("cached")), batch=d.get("batch")))
        return out


class HaluMemSynthTask(HaluMemTask):
    """Same protocol and judges on memeval's own generated data (never reported as HaluMem)."""

    name: ClassVar[str] = "halumem-synth"
    summary: ClassVar[str] = "HaluMem protocol on memeval's own generated data (offline, exact gold)"
    license: ClassVar[str] = "memeval generated data (Apache-2.0 with the code)"
    options: ClassVar[tuple[OptionSpec, ...]] = D.SYNTH_OPTIONS
    known_defects: ClassVar[str] = D.SYNTH_DEFECTS
    smoke: ClassVar[dict[str, Any]] = {"options": {"answerer": "oracle"}, "system": "oracle",
                                       "judge": "exact"}

    def __init__(self, size: str = "tiny", data: str | None = None, limit: int | None = None,
                 limit_sessions: int | None = None, users: int | None = None,
                 answer_max_tokens: int = 48, judge_layout: str = "shared_prefix",
                 answerer: str = "llm", seed: int = 0,
                 deleted_memories: str = "count") -> None:
        self.size = size
        super().__init__(data=data, limit=limit, limit_sessions=limit_sessions, users=users,
                         answer_max_tokens=answer_max_tokens, judge_layout=judge_layout,
                         answerer=answerer, seed=seed, deleted_memories=deleted_memories)

    def _resolve_data(self, data: str | None, hub: str | None, seed: int) -> Path:
        if data:
            return Path(data)
        cache = Path(os.environ.get("MEMEVAL_CACHE_DIR") or Path.home() / ".cache" / "memeval")
        path = cache / "halumem-synth" / f"{self.size}-seed{seed}-v{synth.GENERATOR_VERSION}.jsonl"
        if not path.exists():  # deterministic: regenerating gives the same bytes
            synth.write_jsonl(path, self.size, seed)
        return path

    def config(self) -> dict[str, Any]:
        return {**super().config(), "size": self.size}

    def data_info(self) -> dict[str, Any]:
        return {**super().data_info(), "generator": synth.generator_info()}
