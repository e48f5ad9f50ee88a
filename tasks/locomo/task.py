"""The LoCoMo pack: ingest a conversation session by session, answer its questions, score them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.aggregate import summarize_metrics
from memeval.aio import completed
from memeval.contracts import (Aggregate, CardRow, MetricSpec, OptionSpec, PlanContext,
                               PlanCounts)
from memeval.errors import EndpointDown, UserError
from memeval.fileio import sha256_file
from memeval.metrics.text import bleu1, f1_set
from memeval.records import Memory, Prediction, Sample, Score, Session, Turn, Verdict
from memeval.run_context import RunContext
from memeval.taskbase import TaskBase
from memeval.tasks.locomo import declarations as D
from memeval.tasks.locomo import judge as J
from memeval.tasks.locomo import errata, loader, prompts
from memeval.tasks.locomo import plan as planning
from memeval.tasks.locomo.audit import audit_notes
from memeval.tasks.locomo.scoring import category_name, score_answer
from memeval.tasks.locomo.window import fit_to_window

QUESTION_RESERVE = 256  # tokens kept free for the question, options and chat template
ERRATA_CATEGORIES = (1, 2, 3, 4)


def render_memory(m: Memory) -> str:
    if m.timestamp and not m.text.startswith("["):
        return f"[{m.timestamp}] {m.text}"
    return m.text


class LoCoMoTask(TaskBase):
    name: ClassVar[str] = "locomo"
    version: ClassVar[str] = "1.1"  # 1.1: audit errata (gold strata, gold_ceiling, answers=)
    summary: ClassVar[str] = "LoCoMo long conversational memory QA (10 conversations)"
    cluster_name: ClassVar[str] = "conversation"
    judges: ClassVar[tuple[str, ...]] = ("llm",)
    options: ClassVar[tuple[OptionSpec, ...]] = D.OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = D.METRICS
    card: ClassVar[tuple[CardRow, ...]] = D.CARD
    known_defects: ClassVar[str] = D.KNOWN_DEFECTS
    smoke: ClassVar[dict[str, Any]] = {"options": {"categories": "3"}, "limit": 3,
                                       "system": "rag-bm25", "judge": "llm"}

    def __init__(self, data: str | None = None, limit: int | None = None, k: int = 10,
                 categories: str | int | None = None, judge_categories: str = "1,2,3,4",
                 judge_runs: int = 1, leniency: bool = False, answer_max_tokens: int = 32,
                 answers: str = "official", sample: int | None = None,
                 seed: int = 0) -> None:
        self.path = Path(data) if data else loader.bundled_path()
        self.conversations = {c.sample_id: c for c in loader.load(self.path)}
        self.limit = limit
        self.k = int(k)
        self.categories = _cats(categories) if categories is not None else {1, 2, 3, 4, 5}
        self.judge_categories = _cats(judge_categories)
        self.judge_runs = int(judge_runs)
        self.leniency = bool(leniency)
        self.answer_max_tokens = int(answer_max_tokens)
        self.answers = answers
        self.sample, self.seed = sample, int(seed)
        self.errata_info, entries = errata.load_errata()
        self.errata, self.errata_unmatched = errata.resolve(entries, self.conversations)

    def config(self) -> dict[str, Any]:
        return {"k": self.k, "categories": sorted(self.categories), "limit": self.limit,
                "judge_categories": sorted(self.judge_categories), "judge_runs": self.judge_runs,
                "leniency": self.leniency, "answer_max_tokens": self.answer_max_tokens,
                "answers": self.answers, "sample": self.sample}

    def data_info(self) -> dict[str, Any]:
        convs = list(self.conversations.values())
        return {"path": str(self.path), "sha256": sha256_file(self.path),
                "license": D.LICENSE, "source": "github snap-research/locomo data/locomo10.json",
                "defects": loader.defect_report(convs),
                "errata": {**self.errata_info, "matched": len(self.errata),
                           "score_corrupting": sum(e.score_corrupting
                                                   for e in self.errata.values()),
                           "unmatched": len(self.errata_unmatched)}}

    def samples(self) -> Iterator[Sample]:
        chosen = self._drawn() if self.sample is not None else None
        n = 0
        for conv in self.conversations.values():
            for q in conv.qa:
                if q.category not in self.categories or (
                        chosen is not None and (conv.sample_id, q.index) not in chosen):
                    continue
                if self.limit is not None and n >= self.limit:
                    return
                n += 1
                yield self._sample(conv.sample_id, q)

    def _drawn(self) -> set[tuple[str, int]]:
        """`sample` questions, equal shares per asked category (the first categories take the
        remainder), each share drawn uniformly from all conversations with the run's seed."""
        rng = np.random.default_rng([self.seed, 0x10C0])
        cats = sorted(self.categories)
        out: set[tuple[str, int]] = set()
        for i, cat in enumerate(cats):
            pool = [(c.sample_id, q.index) for c in self.conversations.values() for q in c.qa
                    if q.category == cat]
            k = min(len(pool), self.sample // len(cats) + (i < self.sample % len(cats)))
            out |= {pool[j] for j in rng.choice(len(pool), size=k, replace=False)}
        return out

    def gold(self, sample_id: str) -> str:
        """"erratum" when the audit found this question's gold answer wrong, else "clean"."""
        conv, _, q = sample_id.rpartition("/q")
        e = self.errata.get((conv, int(q))) if q.isdigit() else None
        return "erratum" if e is not None and e.score_corrupting else "clean"

    def _sample(self, conv: str, q: loader.QA) -> Sample:
        e = self.errata.get((conv, q.index))
        wrong = e is not None and e.score_corrupting
        answer = e.corrected_answer if wrong and self.answers == "corrected" else q.answer
        evidence = list(e.corrected_evidence) if e and self.answers == "corrected" else q.evidence
        return Sample(sample_id=f"{conv}/q{q.index:04d}", cluster=conv, group=conv,
                      input={"question": q.question, "category": q.category},
                      reference={"answer": answer, "category": q.category,
                                 "adversarial_answer": q.adversarial_answer,
                                 "evidence": evidence, "bad_evidence": q.bad_evidence,
                                 "gold": "erratum" if wrong else "clean",
                                 "official_answer": q.answer,
                                 "erratum": e.error_type if e else None})

    def plan(self, samples: Sequence[Sample], ctx: PlanContext) -> PlanCounts:
        return planning.plan(self, samples, ctx, _perspective)

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: RunContext) -> AsyncIterator[Prediction]:
        conv = self.conversations[group]
        per_speaker = system.capabilities.ingest == "per-speaker"
        speakers = [conv.speaker_a, conv.speaker_b] if per_speaker else [None]
        spaces = {sp: f"{group}/{sp}" if sp else group for sp in speakers}
        for ns in spaces.values():
            await ctx.call_system(system.reset, ns)
        add_s = 0.0
        advance = ctx.phase(f"{group}: adding sessions", len(conv.sessions) * len(spaces))
        for session in conv.sessions:
            for sp, ns in spaces.items():
                mems, dt = await ctx.call_system(system.add, ns, _perspective(session, sp))
                add_s += dt
                ctx.log_memories(ns, mems)
                advance()

        async def one(sample: Sample) -> Prediction:
            try:
                return await self._answer(system, conv, spaces, sample, ctx, add_s)
            except EndpointDown:
                raise
            except Exception as e:  # recorded per sample, never dropped
                return self._prediction(sample, ctx, None, [], {"ingest_s": add_s},
                                        error=f"{type(e).__name__}: {e}")

        async for pred in completed((one(s) for s in samples), ctx.concurrency):
            yield pred

    async def _answer(self, system: Any, conv: loader.Conversation, spaces: dict[Any, str],
                      sample: Sample, ctx: RunContext, add_s: float) -> Prediction:
        q = sample.input["question"]
        hits: list[Memory] = []
        search_s = 0.0
        for sp, ns in spaces.items():
            found, dt = await ctx.call_system(system.search, ns, q, self.k)
            search_s += dt
            hits.extend(m.model_copy(update={"meta": {**m.meta, "speaker": sp}}) if sp else m
                        for m in found)
        lines = [render_memory(m) for m in hits]
        meta: dict[str, Any] = {"category": sample.input["category"], "ingest_s": add_s,
                                "search_s": search_s, "n_memories": len(lines)}
        ref = sample.reference
        msgs = prompts.answer_messages(conv.speaker_a, conv.speaker_b, [], q,
                                       ref["category"], ref["adversarial_answer"],
                                       sample.sample_id)
        caps = system.capabilities
        if caps.full_context:
            window = getattr(ctx.llm.endpoint, "context_window", None) or 8192
            window = min(window, caps.window_tokens or window)
            # A fixed reserve (not this question's length) keeps the kept turns identical across
            # a conversation's questions, so the server reuses the KV cache of the long prefix.
            reserve = await ctx.llm.count_tokens(msgs[0]["content"]) + QUESTION_RESERVE
            lines, dropped, used = await fit_to_window(
                ctx.llm, lines, window - reserve - self.answer_max_tokens)
            meta.update(truncated_turns=dropped, context_tokens=used)
            hits = hits[dropped:]
        msgs = prompts.answer_messages(conv.speaker_a, conv.speaker_b, lines, q, ref["category"],
                                       ref["adversarial_answer"], sample.sample_id)
        res = await ctx.llm.chat(msgs, caller="answerer", max_tokens=self.answer_max_tokens,
                                 cache_scope=f"seed={ctx.seed}")
        meta.update(answer_s=res.latency_s, prompt_tokens=res.prompt_tokens, cached=res.cached)
        text = res.text.strip()
        if ref["category"] == 5:  # a bare "(b)" means that option's text, as the official code maps
            picked = prompts.option_text(text, ref["adversarial_answer"], sample.sample_id)
            if picked is not None:
                meta["raw_output"], text = text, picked
        return self._prediction(sample, ctx, text, hits, meta)

    def _prediction(self, sample: Sample, ctx: RunContext, output: str | None,
                    hits: list[Memory], meta: dict[str, Any], error: str | None = None
                    ) -> Prediction:
        return Prediction(sample_id=sample.sample_id, cluster=sample.cluster, task=self.name,
                          system=ctx.system_name, output=output, retrieved=hits,
                          reference={**sample.reference, "question": sample.input["question"]},
                          meta=meta, error=error)

    # ---- scoring ----
    def metric_specs(self) -> list[MetricSpec]:
        return [m for m in self.metrics if self.leniency or m.name != "judge_leniency"]

    async def judge(self, pred: Prediction, ctx: Any) -> list[Verdict]:
        return await J.judge_answer(pred, ctx, judge_categories=self.judge_categories,
                                    judge_runs=self.judge_runs, leniency=self.leniency)

    def score(self, pred: Prediction, verdicts: Sequence[Verdict]) -> list[Score]:
        ref = pred.reference
        cat = int(ref["category"])
        gold = self.gold(pred.sample_id)  # from the errata, so older runs get it too
        strata = {"category": str(cat), "gold": gold}
        out = pred.output if pred.error is None else None
        mk = (lambda metric, v: Score(sample_id=pred.sample_id, cluster=pred.cluster,
                                      metric=metric, value=v, strata=strata))
        scores = [mk("f1_official", None if out is None else
                     float(score_answer(out, ref["answer"], cat)))]
        if ref["answer"] is not None:  # extras need a gold answer (most category-5 items lack one)
            scores.append(mk("f1_set", None if out is None else f1_set(out, ref["answer"])))
            scores.append(mk("bleu1", None if out is None else bleu1(out, ref["answer"])))
        if cat in ERRATA_CATEGORIES:  # the audit covered categories 1-4
            fixed = self.answers == "corrected"
            scores.append(Score(sample_id=pred.sample_id, cluster=pred.cluster,
                                metric="gold_ceiling", strata={"category": str(cat)},
                                value=1.0 if fixed or gold == "clean" else 0.0))
        return scores + J.judged_scores(pred, verdicts, strata)

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        metrics = summarize_metrics(self.metric_specs(), scores)
        for entry in metrics.values():
            for key, block in entry.strata.get("category", {}).items():
                block.labels = {c: category_name(int(key), c) for c in D.CONVENTIONS}
        return Aggregate(metrics=metrics, conventions=dict(D.CONVENTIONS),
                         notes=audit_notes(metrics, self.answers))

    def legacy_verdicts(self, scores: Iterable[Score]) -> list[Verdict]:
        return J.legacy_verdicts(scores)


def _perspective(session: Session, speaker: str | None) -> Session:
    """Per-speaker ingestion (Mem0/MemOS harnesses): own turns as user, the other's as assistant."""
    if speaker is None:
        return session
    turns = [Turn(**{**t.model_dump(), "role": "user" if t.speaker == speaker else "assistant"})
             for t in session.turns]
    return session.model_copy(update={"turns": turns})


def _cats(spec: str | int) -> set[int]:
    try:
        cats = {int(c) for c in str(spec).replace(";", ",").split(",") if c.strip()}
    except ValueError as e:
        raise UserError(f"locomo: categories must be numbers 1..5, got {spec!r}") from e
    if not cats <= {1, 2, 3, 4, 5}:
        raise UserError(f"locomo: categories must be within 1..5, got {spec!r}")
    return cats
