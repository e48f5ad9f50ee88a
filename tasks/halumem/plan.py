"""HaluMem's plan (`memeval run --plan`): the protocol of memeval.tasks.halumem.protocol and the
judging of HaluMemTask.judge, walked over the data without calling anything.

Per user: one add per session up to the last asked one (resume re-adds the earlier ones).
Per scored (non-distractor) session: one search per update point and per question, one answer
call per question (answerer=llm); with the LLM judge one accuracy call per memory the add
reports, one integrity call per gold point not sent to the update judge (none when the add
reported nothing: the empty-extraction rule), one update call per update point whose search
found something (any memory stored so far), one QA call per question. Judge retries on invalid
JSON are not predicted: calibration from earlier runs' ledgers adds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memeval.contracts import PlanContext, PlanCounts, approx_tokens
from memeval.contracts.plan import CHARS_PER_TOKEN
from memeval.records import Sample
from memeval.tasks.halumem import prompts as P
from memeval.tasks.halumem.protocol import QA_K, UPDATE_K, answer_messages, to_session
from memeval.tasks.halumem.schema import HSession, User

# Completion lengths before anything is measured: a short answer; a judge's one-sentence
# reasoning plus its fields. `--plan` replaces them with measured means when it has them.
ANSWER_COMPLETION = 12.0
JUDGE_COMPLETION = 60.0
MEMORY_FRAME = 40  # characters a rendered memory adds to its text ("[date] Speaker: ")


def plan(task: Any, samples: Sequence[Sample], ctx: PlanContext) -> PlanCounts:
    out = PlanCounts(samples=len(samples), clusters=len({s.cluster for s in samples}))
    by_user: dict[str, list[int]] = {}
    for s in samples:
        by_user.setdefault(s.group, []).append(int(s.input["session"]))
    guessed = 0
    for uuid, sessions in by_user.items():
        guessed += _user(task, task.user(uuid), set(sessions), ctx, out)
    if guessed:
        out.notes.append(f"{ctx.system.name} does not declare what an add returns: "
                         f"{guessed} session(s) assumed to return one memory per gold point")
    if ctx.judge == "llm":
        out.notes.append("judge retries (invalid JSON) are not predicted; earlier runs of "
                         "the same system calibrate them")
    return out


def _user(task: Any, user: User, asked: set[int], ctx: PlanContext, out: PlanCounts) -> int:
    with_gold = ctx.system.capabilities.accepts_gold
    stored = 0.0  # memories held so far: the update search finds something iff > 0
    guessed = 0
    mem_chars = _mean_turn_chars(user) + MEMORY_FRAME
    for i, hs in enumerate(user.sessions[:max(asked) + 1]):
        cost = ctx.system.add_cost(to_session(user, i, hs, with_gold), stored)
        out.adds += 1
        system = out.caller("system")
        system.add(cost.llm_calls, cost.prompt_tokens, cost.completion_tokens)
        memories = cost.memories
        if memories is None:
            memories = float(len(hs.gold_points))
            guessed += 1
        stored += memories
        if i not in asked or hs.is_distractor:
            continue
        _session(task, hs, memories, stored, mem_chars, ctx, out)
    return guessed


def _session(task: Any, hs: HSession, memories: float, stored: float, mem_chars: float,
             ctx: PlanContext, out: PlanCounts) -> None:
    updates = [p for p in hs.memory_points if p.updated and p.original_memories]
    out.searches += len(updates) + len(hs.questions)
    out.caller("system").add((len(updates) + len(hs.questions)) * ctx.system.search_calls)
    mem_tokens = mem_chars / CHARS_PER_TOKEN
    if task.answerer == "llm":
        for q in hs.questions:
            out.caller("answerer").add(
                1, approx_tokens(answer_messages([], q.question)) + min(QA_K, stored)
                * mem_tokens, min(ANSWER_COMPLETION, task.answer_max_tokens))
    if ctx.judge != "llm":
        return  # the exact judge calls nothing
    judge = out.caller("judge")
    layout = task.judge_layout
    # shared_prefix: a session's accuracy calls repeat its dialogue and gold list, its integrity
    # calls the extracted memories, back to back (HaluMemTask.judge orders them so)
    reuse = layout == "shared_prefix"
    if memories > 0:
        acc = approx_tokens(P.accuracy_messages(hs.dialogue, hs.gold_points, "", layout))
        judge.add(memories, memories * (acc + mem_tokens), memories * JUDGE_COMPLETION,
                  (memories - 1) * acc if reuse else 0.0)
    found = stored > 0
    to_update = [p for p in updates if found]
    if memories > 0 and hs.memory_points:
        point = approx_tokens(hs.memory_points[0].memory_content)
        base = approx_tokens(P.integrity_messages([], hs.memory_points[0], layout)) - point
        n = len(hs.memory_points) - len(to_update)
        judge.add(n, n * (base + point + memories * mem_tokens), n * JUDGE_COMPLETION,
                  max(0, n - 1) * (base + memories * mem_tokens) if reuse else 0.0)
    for p in to_update:
        judge.add(1, approx_tokens(P.update_messages([], p)) + min(UPDATE_K, stored)
                  * mem_tokens, JUDGE_COMPLETION)
    for q in hs.questions:
        judge.add(1, approx_tokens(P.qa_messages(q, "")) + ANSWER_COMPLETION, JUDGE_COMPLETION)


def _mean_turn_chars(user: User) -> float:
    lengths = [len(m.content) for s in user.sessions for m in s.dialogue]
    return sum(lengths) / len(lengths) if lengths else 0.0
