"""The LoCoMo pack: ingest a conversation session by session, answer its questions, score them."""

from __future__ import annotations

from memeval.aio import completed
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from memeval.aggregate import aggregate_scores
from memeval.context import RunContext, fit_to_window
from memeval.errors import EndpointDown, UserError
from memeval.metrics.text import bleu1, f1_set
from memeval.records import Memory, Prediction, Sample, Score, Session, Turn
from memeval.tasks.locomo import loader, prompts
from memeval.tasks.locomo.scoring import category_name, score_answer

LICENSE = "CC BY-NC 4.0"
QUESTION_RESERVE = 256  # tokens kept free for the question, options and chat template


def render_memory(m: Memory) -> str:
    if m.timestamp and not m.text.startswith("["):
        return f"[{m.timestamp}] {m.text}"
    return m.text


class LoCoMoTask:
    name: ClassVar[str] = "locomo"
    version: ClassVar[str] = "1.0"
    cluster_name: ClassVar[str] = "conversation"

    def __init__(self, data: str | None = None, limit: int | None = None, k: int = 10,
                 categories: str | int | None = None, judge_categories: str = "1,2,3,4",
                 judge_runs: int = 1, leniency: bool = False, answer_max_tokens: int = 32,
                 seed: int = 0, **unknown: Any) -> None:
        if unknown:
            raise UserError(f"locomo: unknown option(s) {', '.join(sorted(unknown))}; valid: data,"
                            " limit, k, categories, judge_categories, judge_runs, leniency,"
                            " answer_max_tokens")
        self.path = Path(data) if data else loader.bundled_path()
        self.conversations = {c.sample_id: c for c in loader.load(self.path)}
        self.limit = limit
        self.k = int(k)
        self.categories = _cats(categories) if categories is not None else {1, 2, 3, 4, 5}
        self.judge_categories = _cats(judge_categories)
        self.judge_runs = int(judge_runs)
        self.leniency = bool(leniency)
        self.answer_max_tokens = int(answer_max_tokens)

    def config(self) -> dict[str, Any]:
        return {"k": self.k, "categories": sorted(self.categories), "limit": self.limit,
                "judge_categories": sorted(self.judge_categories), "judge_runs": self.judge_runs,
                "leniency": self.leniency, "answer_max_tokens": self.answer_max_tokens}

    def data_info(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": loader.sha256_file(self.path),
                "license": LICENSE, "source": "github snap-research/locomo data/locomo10.json"}

    def samples(self) -> Iterator[Sample]:
        n = 0
        for conv in self.conversations.values():
            for q in conv.qa:
                if q.category not in self.categories:
                    continue
                if self.limit is not None and n >= self.limit:
                    return
                n += 1
                yield Sample(sample_id=f"{conv.sample_id}/q{q.index:04d}", cluster=conv.sample_id,
                             group=conv.sample_id,
                             input={"question": q.question, "category": q.category},
                             reference={"answer": q.answer, "category": q.category,
                                        "adversarial_answer": q.adversarial_answer,
                                        "evidence": q.evidence, "bad_evidence": q.bad_evidence})

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: RunContext) -> AsyncIterator[Prediction]:
        conv = self.conversations[group]
        per_speaker = getattr(system, "locomo_ingest", "conversation") == "per-speaker"
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
        if getattr(system, "fits_window", False):
            window = getattr(ctx.llm.endpoint, "context_window", None) or 8192
            window = min(window, getattr(system, "max_context", None) or window)
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
    def score(self, pred: Prediction) -> list[Score]:
        ref = pred.reference
        cat = int(ref["category"])
        strata = {"category": str(cat)}
        out = pred.output if pred.error is None else None
        mk = (lambda metric, v: Score(sample_id=pred.sample_id, cluster=pred.cluster,
                                      metric=metric, value=v, strata=strata))
        scores = [mk("f1_official", None if out is None else
                     float(score_answer(out, ref["answer"], cat)))]
        if ref["answer"] is not None:  # extras need a gold answer (most category-5 items lack one)
            scores.append(mk("f1_set", None if out is None else f1_set(out, ref["answer"])))
            scores.append(mk("bleu1", None if out is None else bleu1(out, ref["answer"])))
        return scores

    def judge_metrics(self) -> list[str]:
        return ["llm_judge"] + (["judge_leniency"] if self.leniency else [])

    async def judge(self, pred: Prediction, ctx: RunContext) -> list[Score]:
        ref = pred.reference
        cat = int(ref["category"])
        if ctx.judge != "llm" or cat not in self.judge_categories or ref["answer"] is None:
            return []
        strata = {"category": str(cat)}
        out: list[Score] = []
        answers = {"llm_judge": pred.output} if pred.error is None else {"llm_judge": None}
        if self.leniency:
            answers["judge_leniency"] = prompts.VAGUE[cat]  # a lenient judge calls this CORRECT
        for metric, answer in answers.items():
            if answer is None:
                out.append(Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=metric,
                                 value=None, strata=strata, detail={"reason": "no prediction"}))
                continue
            labels = [await self._judge_once(ref["question"], ref["answer"], answer, ctx,
                                             f"{pred.sample_id}/{metric}/run{r}")
                      for r in range(self.judge_runs)]
            valid = [lab for lab in labels if lab is not None]
            value = sum(lab == "CORRECT" for lab in valid) / len(valid) if valid else None
            out.append(Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=metric,
                             value=value, strata=strata,
                             detail={"labels": labels, "judge": ctx.llm.identity}))
            if ctx.audit is not None:
                ctx.audit.emit("judge.verdict", "judge", {"sample_id": pred.sample_id,
                               "metric": metric, "labels": labels, "judge": ctx.llm.identity})
        return out

    async def _judge_once(self, question: str, gold: str, answer: str, ctx: RunContext,
                          scope: str) -> str | None:
        msgs = prompts.judge_messages(question, gold, answer)
        for attempt in range(3):
            res = await ctx.llm.chat(msgs, caller="judge", schema=prompts.JUDGE_SCHEMA,
                                     max_tokens=24, cache_scope=scope, attempt=attempt,
                                     temperature=0.0 if attempt == 0 else 0.5)
            label = (res.json or {}).get("label") if isinstance(res.json, dict) else None
            if label in ("CORRECT", "WRONG"):
                return label
        return None  # invalid verdict: counted in "(all)" as wrong, excluded in "(valid)"

    def aggregate(self, scores: Iterable[Score], predictions: Any = None) -> dict[str, Any]:
        metrics = aggregate_scores(scores, strata_key="category")
        for per in metrics.values():
            for key, block in per.get("by_category", {}).items():
                block["name"] = category_name(int(key), "data")
                block["name_mem0"] = category_name(int(key), "mem0")
        return {"metrics": metrics, "category_convention": "data (official LoCoMo numbering)",
                "clusters": self.cluster_name}


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
