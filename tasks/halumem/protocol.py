"""HaluMem's streaming per-session protocol: add, update retrieval, QA right after the session.

Memory = the prefix of sessions so far. A resumed run re-adds the finished sessions of a user to
rebuild the system's state (free for baselines; cache hits for LLM-backed systems) and does the
per-session work only for sessions not yet written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from memeval.records import GoldMemory, Memory, Prediction, Sample, Session, Turn
from memeval.run_context import RunContext
from memeval.tasks.halumem.schema import HSession, MemoryPoint, Question, User, contains

UPDATE_K = 10
QA_K = 20

ANSWER_SYSTEM = (
    "You answer questions about a user from the memories a memory system stored about them. "
    "Each memory may start with the date it was recorded. Use only these memories. Reply with "
    "a short answer of a few words. If the memories do not contain the answer, reply: unknown."
)


def to_session(user: User, index: int, hs: HSession, with_gold: bool) -> Session:
    turns = [Turn(speaker=m.role, role=m.role, text=m.content, timestamp=m.timestamp,
                  turn_id=f"{index}:{j}") for j, m in enumerate(hs.dialogue)]
    meta: dict[str, Any] = {"user": user.uuid, "session": index}
    if with_gold:  # only systems that declare accepts_gold (ceilings) see the gold points
        meta["gold_memories"] = [gold_memory(p).model_dump() for p in hs.memory_points]
    return Session(session_id=f"{user.uuid}/s{index:03d}", timestamp=hs.start_time, turns=turns,
                   meta=meta)


def gold_memory(p: MemoryPoint) -> GoldMemory:
    return GoldMemory(text=p.memory_content, memory_id=str(p.index), kind=p.memory_type,
                      distractor=p.is_interference,
                      replaces=list(p.original_memories) if p.updated else [],
                      timestamp=p.timestamp)


def render(m: Memory) -> str:
    return f"[{m.timestamp}] {m.text}" if m.timestamp else m.text


def answer_messages(memories: list[str], question: str) -> list[dict[str, str]]:
    body = "Memories:\n" + ("\n".join(memories) if memories else "(no memories)")
    return [{"role": "system", "content": ANSWER_SYSTEM},
            {"role": "user", "content": f"{body}\n\nQuestion: {question}\nShort answer:"}]


async def run_user(task: Any, system: Any, user: User, pending: list[Sample], ctx: RunContext,
                   answer_max_tokens: int) -> AsyncIterator[Prediction]:
    ns = user.uuid
    todo = {s.input["session"]: s for s in pending}
    last = max(todo)
    with_gold = system.capabilities.accepts_gold
    await ctx.call_system(system.reset, ns)
    for i, hs in enumerate(user.sessions[:last + 1]):
        mems, add_s = await ctx.call_system(system.add, ns, to_session(user, i, hs, with_gold))
        if i not in todo:
            continue  # finished earlier: re-added only to rebuild the memory state
        ctx.log_memories(ns, mems)
        sample = todo[i]
        # The official harness counts everything an add returns as the session's extraction,
        # DELETE events included; `deleted_memories=exclude` is memeval's named deviation.
        keep = [m for m in mems if task.deleted_memories == "count" or m.event != "DELETE"]
        meta: dict[str, Any] = {"session": i, "add_s": add_s, "distractor": hs.is_distractor,
                                "extracted": [m.text for m in keep],
                                "events": [m.event for m in mems],
                                "deleted_memories": task.deleted_memories}
        if not hs.is_distractor:
            meta.update(await _updates(system, ns, hs, ctx))
            meta["qa"] = [await _ask(system, ns, j, q, ctx, answer_max_tokens, task.answerer)
                          for j, q in enumerate(hs.questions)]
        yield Prediction(sample_id=sample.sample_id, cluster=sample.cluster, task=task.name,
                         system=ctx.system_name, output=None, reference=sample.reference,
                         meta=meta)


async def _updates(system: Any, ns: str, hs: HSession, ctx: RunContext) -> dict[str, Any]:
    hits: dict[str, list[str]] = {}
    seconds = 0.0
    for p in hs.memory_points:
        if p.updated and p.original_memories:
            found, dt = await ctx.call_system(system.search, ns, p.memory_content, UPDATE_K)
            seconds += dt
            hits[str(p.index)] = [render(m) for m in found]
    return {"update_hits": hits, "update_search_s": seconds}


async def _ask(system: Any, ns: str, j: int, q: Question, ctx: RunContext,
               max_tokens: int, answerer: str) -> dict[str, Any]:
    found, search_s = await ctx.call_system(system.search, ns, q.question, QA_K)
    texts = [render(m) for m in found]
    if answerer == "oracle":
        return {"i": j, "response": oracle_answer(q, texts), "n_retrieved": len(found),
                "retrieved": texts, "search_s": search_s, "answer_s": 0.0, "cached": False}
    res = await ctx.llm.chat(answer_messages(texts, q.question), caller="answerer",
                             max_tokens=max_tokens, cache_scope=f"seed={ctx.seed}")
    return {"i": j, "response": res.text.strip(), "n_retrieved": len(found),
            "retrieved": texts, "search_s": search_s, "answer_s": res.latency_s,
            "cached": res.cached}


def oracle_answer(q: Question, retrieved: list[str]) -> str:
    """Pipeline check, not a model: the gold answer iff every evidence point was retrieved,
    else 'unknown'. With the `oracle` system it isolates retrieval, judging and metrics."""
    if q.unanswerable or not q.evidence:
        return "unknown"
    found = all(any(contains(t, e.memory_content) for t in retrieved) for e in q.evidence)
    return q.answer if found else "unknown"
