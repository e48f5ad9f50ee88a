"""The HaluMem pack (official data) and halumem-synth (memeval's generated data, same protocol).

Sample = one session of one user (cluster = user). Its prediction holds what the system
extracted, the update searches and the QA answers; judging turns it into verdict rows (one per
gold point, extracted memory, update and question), written per session as one batch.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from memeval.context import RunContext
from memeval.errors import UserError
from memeval.records import Prediction, Sample, Score
from memeval.tasks.halumem import judges, loader, protocol, synth
from memeval.tasks.halumem.metrics import (AccuracyRecord, IntegrityRecord, QARecord,
                                           UpdateRecord, route_points)
from memeval.tasks.halumem.report import aggregate_halumem
from memeval.tasks.halumem.schema import User

JUDGES = ("llm", "exact")


class HaluMemTask:
    name: ClassVar[str] = "halumem"
    version: ClassVar[str] = "1.0"
    license: ClassVar[str] = "CC BY-NC-ND 4.0"

    def __init__(self, data: str | None = None, limit: int | None = None,
                 limit_sessions: int | None = None, users: int | None = None,
                 answer_max_tokens: int = 48, judge_layout: str = "shared_prefix",
                 answerer: str = "llm", seed: int = 0, hub: str | None = None) -> None:
        if answerer not in ("llm", "oracle"):
            raise UserError(f"halumem: answerer must be 'llm' or 'oracle', got {answerer!r}")
        self.limit, self.limit_sessions, self.max_users = limit, limit_sessions, users
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
                "judge_layout": self.judge_layout, "answerer": self.answerer}

    def data_info(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": loader.file_sha256(self.path),
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

    def score(self, pred: Prediction) -> list[Score]:
        return []  # every HaluMem metric comes from a judge (llm or exact)

    def judge_metrics(self) -> list[str]:
        return ["integrity", "accuracy", "update", "qa"]

    def _judge(self, ctx: RunContext) -> Any:
        kind = ctx.judge or "llm"
        if kind not in JUDGES:
            raise UserError(f"halumem: unknown judge {kind!r}; valid: {', '.join(JUDGES)}")
        if kind == "exact":
            return judges.ExactJudge()
        return judges.LLMJudge(ctx.llm, layout=self.judge_layout)  # type: ignore[arg-type]

    async def judge(self, pred: Prediction, ctx: RunContext) -> list[Score]:
        if pred.error is not None or pred.meta.get("distractor"):
            return []
        user = self.user(pred.reference["user"])
        i = pred.reference["session"]
        hs = user.sessions[i]
        j = self._judge(ctx)
        extracted: list[str] = pred.meta["extracted"]
        hits = {int(k): v for k, v in pred.meta.get("update_hits", {}).items()}
        to_integrity, to_update = route_points(hs.memory_points, hits)
        rows: list[tuple[str, str, dict[str, Any], Any]] = []
        gold = hs.gold_points
        # Accuracy calls first and back to back: they share the session dialogue as a prefix.
        for m, mem in enumerate(extracted):
            v = await j.accuracy(hs.dialogue, gold, mem)
            rows.append((f"m{m}", "accuracy", AccuracyRecord.of(user.uuid, i, v).model_dump(), v))
        for p in to_integrity:
            v = await j.integrity(extracted, p)
            rows.append((f"p{p.index}", "integrity",
                         IntegrityRecord.of(user.uuid, i, p, v).model_dump(), v))
        for p in to_update:
            v = await j.update(hits[p.index], p)
            rows.append((f"u{p.index}", "update",
                         UpdateRecord.of(user.uuid, i, p, v).model_dump(), v))
        for qa, q in zip(pred.meta.get("qa", []), hs.questions):
            v = await j.qa(q, qa["response"])
            rec = QARecord(user=user.uuid, session=i, question_type=q.question_type,
                           difficulty=q.difficulty, label=v.label if v.valid else None)
            rows.append((f"q{qa['i']}", "qa", rec.model_dump(), v))
        out = []
        for item, metric, record, v in rows:
            value = (v.score if metric in ("integrity", "accuracy") else
                     float(v.label == "Correct") if v.valid else None)
            out.append(Score(sample_id=f"{pred.sample_id}/{item}", cluster=pred.cluster,
                             metric=metric, value=None if not v.valid else value,
                             strata={"memory_type": record.get("memory_type", ""),
                                     "question_type": record.get("question_type", "")},
                             detail={"record": record, "prediction_id": pred.sample_id,
                                     "batch": len(rows), "judge": v.judge,
                                     "reason": v.reason, "cached": v.cached}))
        if ctx.audit is not None:
            ctx.audit.emit("judge.verdict", "judge", {
                "sample_id": pred.sample_id, "judge": j.identity, "n": len(out),
                "invalid": sum(s.value is None for s in out)})
        return out

    def aggregate(self, scores: Iterable[Score], predictions: Any = None) -> dict[str, Any]:
        return aggregate_halumem(list(scores), predictions or [])


class HaluMemSynthTask(HaluMemTask):
    """Same protocol and judges on memeval's own generated data (never reported as HaluMem)."""

    name: ClassVar[str] = "halumem-synth"
    license: ClassVar[str] = "memeval generated data (Apache-2.0 with the code)"

    def __init__(self, size: str = "tiny", data: str | None = None, **kw: Any) -> None:
        self.size = size
        self._seed = int(kw.get("seed", 0))
        super().__init__(data=data, **kw)

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
