"""LoCoMo's plan (`memeval run --plan`): LoCoMoTask.run_group and the judge walked over the data
without calling anything.

Per conversation asked about: every session added once per namespace (two with per-speaker
ingest). Per question: one search per namespace and one answer call; with the LLM judge
`judge_runs` calls when its category is judged and it has a gold answer, twice that with the
leniency check. Judge retries on invalid JSON are not predicted (earlier runs calibrate them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from memeval.contracts import PlanContext, PlanCounts, approx_tokens
from memeval.contracts.plan import CHARS_PER_TOKEN
from memeval.records import Sample, Session
from memeval.tasks.locomo import prompts

ANSWER_COMPLETION = 10.0  # a short phrase, before anything is measured
JUDGE_COMPLETION = 8.0  # {"label": "CORRECT"}
MEMORY_FRAME = 40  # characters of "[date] Speaker: " around a turn's text


def plan(task: Any, samples: Sequence[Sample], ctx: PlanContext,
         perspective: Callable[[Session, str | None], Session]) -> PlanCounts:
    """`perspective`: the task's own per-speaker view of a session (what `add` receives)."""
    out = PlanCounts(samples=len(samples), clusters=len({s.cluster for s in samples}))
    caps = ctx.system.capabilities
    by_conv: dict[str, list[Sample]] = {}
    for s in samples:
        by_conv.setdefault(s.group, []).append(s)
    for group, items in by_conv.items():
        conv = task.conversations[group]
        speakers = [conv.speaker_a, conv.speaker_b] if caps.ingest == "per-speaker" else [None]
        stored = dict.fromkeys(speakers, 0.0)  # per namespace
        for session in conv.sessions:
            for sp in speakers:
                cost = ctx.system.add_cost(perspective(session, sp), stored[sp])
                stored[sp] += cost.memories if cost.memories is not None else len(session.turns)
                out.adds += 1
                out.caller("system").add(cost.llm_calls, cost.prompt_tokens,
                                         cost.completion_tokens)
        turns = [t for s in conv.sessions for t in s.turns]
        mem_tokens = (sum(len(t.text) for t in turns) / max(1, len(turns)) + MEMORY_FRAME) \
            / CHARS_PER_TOKEN
        shown = len(turns) if caps.full_context else min(len(turns), task.k) * len(speakers)
        if caps.full_context:  # fitted to the answer model's window (8,192 when unknown)
            window = caps.window_tokens or 8192
            context = min(shown * mem_tokens, window - task.answer_max_tokens)
        else:
            context = shown * mem_tokens
        for s in items:
            out.searches += len(speakers)
            out.caller("system").add(len(speakers) * ctx.system.search_calls)
            ref = s.reference
            msgs = prompts.answer_messages(conv.speaker_a, conv.speaker_b, [],
                                           s.input["question"], ref["category"],
                                           ref["adversarial_answer"], s.sample_id)
            out.caller("answerer").add(1, approx_tokens(msgs) + context,
                                       min(ANSWER_COMPLETION, task.answer_max_tokens))
            judged = (ctx.judge == "llm" and int(ref["category"]) in task.judge_categories
                      and ref["answer"] is not None)
            if judged:
                n = task.judge_runs * (2 if task.leniency else 1)
                tokens = approx_tokens(prompts.judge_messages(
                    s.input["question"], str(ref["answer"]), "")) + ANSWER_COMPLETION
                out.caller("judge").add(n, n * tokens, n * JUDGE_COMPLETION)
    if ctx.judge == "llm":
        out.notes.append("judge retries (invalid JSON) are not predicted; earlier runs of "
                         "the same system calibrate them")
    return out
