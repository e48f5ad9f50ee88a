"""HaluMem metrics on hand-built verdict records (results computed by hand in the comments),
through the pack's item scores and the engine's aggregation; routing, the empty-extraction
rule, and the judges that produce the verdicts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from memeval.adapters.memory.oracle import OracleMemory
from memeval.contracts import Aggregate
from memeval.judging import Ruling
from memeval.llm import LLMError
from memeval.records import Score
from memeval.tasks.halumem import metrics as M
from memeval.tasks.halumem.aggregate import aggregate, empty_extraction_effect
from memeval.tasks.halumem.declarations import METRICS
from memeval.tasks.halumem.judges import EMPTY_RULE, ExactJudge, LLMJudge
from memeval.tasks.halumem.metrics import AccuracyRecord, IntegrityRecord, QARecord, UpdateRecord
from memeval.tasks.halumem.schema import MemoryPoint, Message, Question


def I(user: str, mtype: str, imp: float, score: int | None, inter: bool = False,
      session: int = 0, idx: int = 0, empty: bool = False) -> IntegrityRecord:
    return IntegrityRecord(user=user, session=session, point_index=idx, memory_type=mtype,
                           is_interference=inter, importance=imp, score=score,
                           empty_extraction=empty)


P, E, R = "Persona Memory", "Event Memory", "Relationship Memory"

INTEGRITY = [
    I("u1", P, 1.0, 2),               # r1 full
    I("u1", P, 0.5, 1),               # r2 partial: 0 in R, 0.5 in weighted R
    I("u1", E, 1.0, 0),               # r3 missed
    I("u2", R, 0.5, None),            # r4 invalid verdict
    I("u1", P, 1.0, 0, inter=True),   # i1 distractor resisted
    I("u1", E, 1.0, 2, inter=True),   # i2 distractor stored
    I("u2", P, 1.0, None, inter=True),  # i3 invalid
]
ACCURACY = [
    AccuracyRecord(user="u1", session=0, score=2, is_included=True),    # a1 s=1
    AccuracyRecord(user="u1", session=0, score=1, is_included=True),    # a2 s=0.5
    AccuracyRecord(user="u1", session=0, score=0, is_included=False),   # a3 s=0
    AccuracyRecord(user="u2", session=0, score=None, is_included=None),  # a4 invalid
    AccuracyRecord(user="u2", session=0, score=2, is_included=False),   # a5 s=1
]
UPDATE = [
    UpdateRecord(user="u1", session=1, point_index=1, memory_type=P, label="Correct"),
    UpdateRecord(user="u1", session=1, point_index=2, memory_type=P, label="Omission"),
    UpdateRecord(user="u2", session=1, point_index=1, memory_type=E, label="Hallucination"),
    UpdateRecord(user="u2", session=1, point_index=2, memory_type=E, label=None),
]
QA = [
    QARecord(user="u1", session=0, question_type="Basic Fact Recall", difficulty="easy",
             label="Correct"),
    QARecord(user="u1", session=0, question_type="Basic Fact Recall", difficulty="easy",
             label="Hallucination"),
    QARecord(user="u1", session=1, question_type="Memory Boundary", difficulty="medium",
             label="Correct"),
    QARecord(user="u2", session=0, question_type="Multi-hop Inference", difficulty="hard",
             label="Omission"),
    QARecord(user="u2", session=0, question_type="Multi-hop Inference", difficulty="hard",
             label=None),
]


def item_scores(*records: M.Record) -> list[Score]:
    out: list[Score] = []
    for n, rec in enumerate(records):
        pid = f"{rec.user}/s{rec.session:03d}"
        out += M.items(rec, f"{pid}/r{n:03d}", pid)
    return sorted(out, key=lambda s: (s.sample_id, s.metric))


def run(integrity=(), accuracy=(), update=(), qa=()) -> Aggregate:
    return aggregate(METRICS, item_scores(*integrity, *accuracy, *update, *qa), [])


def val(a: Aggregate, metric: str, variant: str = "all", **stratum: str) -> float | None:
    entry = a.metrics.get(metric)
    block = entry.block(stratum) if entry is not None else None
    return None if block is None else getattr(block, variant).mean


@pytest.fixture(scope="module")
def m() -> Aggregate:
    return run(INTEGRITY, ACCURACY, UPDATE, QA)


def test_recall_partial_credit(m: Aggregate) -> None:
    # R(all) = #score 2 / #non-interference = 1/4 (r2's partial counts 0, r4 invalid counts 0)
    assert val(m, "memory_recall") == pytest.approx(0.25)
    # R(valid) = 1/3 (r4 dropped)
    assert val(m, "memory_recall", "valid") == pytest.approx(1 / 3)
    # W-R(all) = (1.0*1 + 0.5*0.5 + 1.0*0 + 0.5*0) / (1.0+0.5+1.0+0.5) = 1.25/3.0
    assert val(m, "weighted_recall") == pytest.approx(1.25 / 3.0)
    # W-R(valid) = 1.25 / (1.0+0.5+1.0) = 0.5
    assert val(m, "weighted_recall", "valid") == pytest.approx(0.5)
    rows = [s for s in item_scores(*INTEGRITY) if s.metric == "memory_recall"]
    assert [s.value for s in rows] == [1.0, 0.0, 0.0, None]
    assert [s.cluster for s in rows] == ["u1", "u1", "u1", "u2"]
    wr = [s for s in item_scores(*INTEGRITY) if s.metric == "weighted_recall"]
    assert [(s.value, s.weight) for s in wr] == [(1.0, 1.0), (0.5, 0.5), (0.0, 1.0), (None, 0.5)]


def test_fmr_accuracy_precision_f1(m: Aggregate) -> None:
    # FMR(all) = interference scored 0 / interference = 1/3; (valid) = 1/2
    assert val(m, "fmr") == pytest.approx(1 / 3)
    assert val(m, "fmr", "valid") == pytest.approx(0.5)
    # Accuracy(all) = (1 + 0.5 + 0 + 0 + 1) / 5 = 0.5; (valid) = 2.5/4 = 0.625
    assert val(m, "memory_accuracy") == pytest.approx(0.5)
    assert val(m, "memory_accuracy", "valid") == pytest.approx(0.625)
    # Target P = (1 + 0.5) / 2 over is_included = true (a1, a2) = 0.75, both variants
    assert val(m, "target_precision") == pytest.approx(0.75)
    assert val(m, "target_precision", "valid") == pytest.approx(0.75)
    # F1 from the (all) values: 2 * 0.75 * 0.25 / (0.75 + 0.25) = 0.375
    assert val(m, "extraction_f1") == pytest.approx(0.375)


def test_target_precision_invalid_but_included() -> None:
    recs = [AccuracyRecord(user="u", session=0, score=2, is_included=True),
            AccuracyRecord(user="u", session=0, score=None, is_included=True)]
    # (all): (1 + 0) / 2 = 0.5; (valid): 1 / 1 = 1.0
    assert val(run(accuracy=recs), "target_precision") == pytest.approx(0.5)
    assert val(run(accuracy=recs), "target_precision", "valid") == pytest.approx(1.0)


def test_update_shares(m: Aggregate) -> None:
    # 4 records, one invalid: C 1/4, O 1/4, H 1/4, Other 0/4; (valid): 1/3 each, Other 0/3
    assert val(m, "update_correct") == pytest.approx(0.25)
    assert val(m, "update_omission") == pytest.approx(0.25)
    assert val(m, "update_hallucination") == pytest.approx(0.25)
    assert val(m, "update_other") == 0.0
    assert val(m, "update_correct", "valid") == pytest.approx(1 / 3)
    assert val(m, "update_other", "valid") == 0.0


def test_qa_shares_overall_and_strata(m: Aggregate) -> None:
    # 5 questions, one invalid: C 2/5, H 1/5, O 1/5; (valid): C 2/4
    assert val(m, "qa_correct") == pytest.approx(0.4)
    assert val(m, "qa_hallucination") == pytest.approx(0.2)
    assert val(m, "qa_omission") == pytest.approx(0.2)
    assert val(m, "qa_correct", "valid") == pytest.approx(0.5)
    # Basic Fact Recall: C 1/2, H 1/2; Memory Boundary: C 1/1
    assert val(m, "qa_correct", question_type="Basic Fact Recall") == pytest.approx(0.5)
    assert val(m, "qa_hallucination", question_type="Basic Fact Recall") == pytest.approx(0.5)
    assert val(m, "qa_correct", question_type="Memory Boundary") == 1.0
    # Multi-hop: (all) O 1/2; (valid) O 1/1
    assert val(m, "qa_omission", question_type="Multi-hop Inference") == pytest.approx(0.5)
    assert val(m, "qa_omission", "valid", question_type="Multi-hop Inference") == 1.0
    # A type with no questions: listed (a declared level) with n = 0 and no value, not 0
    empty = m.metrics["qa_correct"].block({"question_type": "Dynamic Update"})
    assert empty is not None and empty.all.n == 0 and empty.all.mean is None
    # difficulty: easy C 1/2, medium C 1/1, hard C 0/2
    assert val(m, "qa_correct", difficulty="easy") == pytest.approx(0.5)
    assert val(m, "qa_correct", difficulty="medium") == 1.0
    assert val(m, "qa_correct", difficulty="hard") == 0.0


def test_typewise_accuracy_excludes_interference(m: Aggregate) -> None:
    # Persona: integrity r1 (2), r2 (1) + updates Correct, Omission -> (1 + 1) / 4 = 0.5
    # (upstream would add i1 and i3 -> 2/6)
    assert val(m, "typewise_accuracy", memory_type=P) == pytest.approx(0.5)
    # Event: r3 (0) + Hallucination + invalid -> 0/3; the stored distractor i2 (score 2)
    # must not count (upstream: 1/4 = 0.25)
    assert val(m, "typewise_accuracy", memory_type=E) == 0.0
    assert val(m, "typewise_accuracy", "valid", memory_type=E) == 0.0
    assert m.metrics["typewise_accuracy"].block({"memory_type": E}).all.n == 3
    # Relationship: only r4 (invalid) -> (all) 0/1; (valid) zero denominator -> None
    assert val(m, "typewise_accuracy", memory_type=R) == 0.0
    assert val(m, "typewise_accuracy", "valid", memory_type=R) is None
    assert m.metrics["typewise_accuracy"].overall is None  # declared: no pooled value


def test_counts(m: Aggregate) -> None:
    assert m.details["verdicts"] == {"integrity": 4, "interference": 3, "integrity_invalid": 2,
                                     "accuracy": 5, "accuracy_invalid": 1,
                                     "accuracy_included_unparsed": 0, "update": 4,
                                     "update_invalid": 1, "qa": 5, "qa_invalid": 1}


def test_zero_denominators_are_none() -> None:
    assert run().metrics == {}  # no records: no metric, rather than zeros
    # only interference records: recall undefined, FMR defined
    only = run([I("u", P, 1.0, 0, inter=True)])
    assert val(only, "memory_recall") is None and val(only, "fmr") == 1.0
    assert val(only, "extraction_f1") is None
    # zero importance: weighted recall undefined
    assert val(run([I("u", P, 0.0, 2)]), "weighted_recall") is None
    assert M.extraction_f1(0.0, 0.0) == 0.0


def _pt(index: int, upd: bool = False, inter: bool = False, text: str = "") -> MemoryPoint:
    return MemoryPoint(index=index, memory_content=text or f"fact {index}",
                       memory_type="Persona Memory",
                       memory_source="interference" if inter else "secondary",
                       is_update="True" if upd else "False",
                       original_memories=["old fact"] if upd else [], importance=1.0)


def test_routing_update_vs_integrity() -> None:
    pts = [_pt(1, upd=True), _pt(2, upd=True), _pt(3, upd=True), _pt(4), _pt(5, inter=True)]
    hits = {1: ["new fact 1"], 2: [], 4: ["something"]}  # 3 never searched
    to_integrity, to_update = M.route_points(pts, hits)
    assert [p.index for p in to_update] == [1]
    # empty search (2), no search (3), non-update with hits (4), interference (5) -> integrity
    assert [p.index for p in to_integrity] == [2, 3, 4, 5]


def test_empty_extraction_rule_and_fmr_effect() -> None:
    session0 = [_pt(1), _pt(2, inter=True), _pt(3, inter=True)]
    assert M.is_empty_extraction([]) and M.is_empty_extraction(["", "  "])
    rule = asyncio.run(ExactJudge().integrity([], session0[0]))  # the rule, not a judge call
    recs = [IntegrityRecord.of("u", 0, p, rule) for p in session0]
    assert [r.score for r in recs] == [0, 0, 0] and all(r.empty_extraction for r in recs)
    recs.append(I("u", P, 1.0, 2, inter=True, session=1))  # a distractor stored later
    scores = item_scores(*recs)
    eff = empty_extraction_effect(scores)
    # FMR(all) = 2 resisted (both free, from the empty session) / 3 = 2/3
    # without the empty session: 0 / 1 = 0
    assert eff["fmr(all)"] == pytest.approx(2 / 3)
    assert eff["fmr_excluding_empty_sessions(all)"] == 0.0
    assert eff["empty_sessions"] == 1 and eff["interference_in_empty_sessions"] == 2
    agg = aggregate(METRICS, scores, [])
    assert val(agg, "memory_recall") == 0.0  # the gold point of the empty session is missed
    assert val(agg, "fmr", extraction="empty") == 1.0  # the stratum shows the free part
    assert val(agg, "fmr", extraction="non-empty") == 0.0
    assert "2 distractor(s) counted as resisted" in agg.notes[0]


# -- judges ---------------------------------------------------------------------------------
@dataclass
class _Res:
    text: str
    json: dict[str, Any] | None = None
    cached: bool = False


class FakeClient:
    identity = "fake-judge@test"

    def __init__(self, replies: list[_Res]) -> None:
        self.replies, self.calls = list(replies), []  # type: list[_Res], list[dict[str, Any]]

    async def chat(self, messages: list[dict[str, str]], **kw: Any) -> _Res:
        self.calls.append({"messages": messages, **kw})
        return self.replies.pop(0)


Q = Question(question="Where does Ann live?", answer="Oslo", difficulty="easy",
             question_type="Basic Fact Recall",
             evidence=[{"memory_content": "Ann lives in Oslo", "memory_type": "Persona Memory"}])


def test_llm_judge_retries_then_succeeds() -> None:
    client = FakeClient([_Res("sure! the label is correct"),
                         _Res('```json\n{"reasoning": "ok", "label": "correct"}\n```')])
    v = asyncio.run(LLMJudge(client).qa(Q, "Oslo"))
    assert v.valid and v.label == "Correct" and v.attempts == 2 and v.judge == "fake-judge@test"
    assert [c["attempt"] for c in client.calls] == [0, 1]
    assert [c["temperature"] for c in client.calls] == [0.0, 0.3]
    assert client.calls[0]["caller"] == "judge" and client.calls[0]["schema"]["required"]


def test_llm_judge_invalid_after_n_attempts() -> None:
    client = FakeClient([_Res("x", json={"label": "Maybe"}) for _ in range(3)])
    v = asyncio.run(LLMJudge(client, attempts=3).update(["m"], _pt(1, upd=True)))
    assert not v.valid and v.label is None and v.raw == "x" and v.attempts == 3
    assert "bad label 'Maybe'" in (v.reason or "")
    rec = M.UpdateRecord.of("u", 0, _pt(1, upd=True), v)
    assert rec.label is None


def test_llm_judge_accuracy_parsing_and_layout() -> None:
    client = FakeClient([_Res('{"reasoning": "r", "accuracy_score": "2", '
                              '"is_included_in_golden_memories": "true"}')])
    dialogue = [Message(role="user", content="I live in Oslo.", timestamp="t")]
    v = asyncio.run(LLMJudge(client).accuracy(dialogue, [_pt(1, text="Ann lives in Oslo")],
                                              "Ann lives in Oslo"))
    assert v.valid and v.score == 2 and v.extra["is_included"] is True
    shared = client.calls[0]["messages"][1]["content"]
    assert shared.startswith("Session dialogue:") and shared.endswith("Ann lives in Oslo")
    first = FakeClient([_Res('{"reasoning": "r", "accuracy_score": 0, '
                             '"is_included_in_golden_memories": false}')])
    asyncio.run(LLMJudge(first, layout="memory_first").accuracy(dialogue, [], "X"))
    assert first.calls[0]["messages"][1]["content"].startswith("Memory to check:\nX")
    grade = '{"reasoning": "r", "score": 2}'
    both = FakeClient([_Res(grade), _Res(grade)])
    asyncio.run(LLMJudge(both).integrity(["Ann lives in Oslo"], _pt(1, text="Oslo")))
    asyncio.run(LLMJudge(both, layout="memory_first").integrity(["Ann lives in Oslo"],
                                                                _pt(1, text="Oslo")))
    shared, item_first = (c["messages"][1]["content"] for c in both.calls)
    assert shared.startswith("Extracted memories:\n1. Ann lives in Oslo")
    assert item_first.startswith("Expected memory point:\nOslo")


def test_empty_extraction_needs_no_judge_call() -> None:
    client = FakeClient([])  # any call would fail on pop()
    v = asyncio.run(LLMJudge(client).integrity([], _pt(1)))
    assert v.valid and v.score == 0 and v.judge == EMPTY_RULE and not client.calls
    assert M.IntegrityRecord.of("u", 0, _pt(1), v).empty_extraction


def test_exact_judge_update_and_qa() -> None:
    j = ExactJudge()
    upd = _pt(1, upd=True, text="Ann now lives in Bergen")
    assert asyncio.run(j.update(["Ann now lives in Bergen!"], upd)).label == "Correct"
    assert asyncio.run(j.update(["Ann likes tea"], upd)).label == "Omission"
    assert asyncio.run(j.update(["Ann now lives in Bergen", "Old fact"], upd)).label == "Other"
    assert asyncio.run(j.qa(Q, "She lives in Oslo.")).label == "Correct"
    assert asyncio.run(j.qa(Q, "Bergen")).label == "Omission"
    unk = Question(question="Blood type?", answer="unknown", difficulty="medium",
                   question_type="Memory Boundary")
    assert asyncio.run(j.qa(unk, "That was not mentioned.")).label == "Correct"
    assert asyncio.run(j.qa(unk, "Type A")).label == "Hallucination"
    v: Ruling = asyncio.run(j.accuracy([], [_pt(1, text="Ann lives in Oslo"),
                                             _pt(2, inter=True, text="Ann lives in Rome")],
                                        "Ann lives in Rome"))
    assert v.score == 0 and v.extra["is_included"] is False  # interference is not gold


def test_refused_request_is_an_invalid_verdict() -> None:
    class RefusingClient(FakeClient):  # fault injection: a refusal on demand
        async def chat(self, messages: list[dict[str, str]], **kw: Any) -> _Res:
            self.calls.append(kw)
            raise LLMError("HTTP 400: prompt exceeds the context window")

    client = RefusingClient([])
    v = asyncio.run(LLMJudge(client).qa(Q, "Oslo"))
    assert not v.valid and "context window" in (v.reason or "") and len(client.calls) == 1


# -- fidelity with the official scorer (issue: results people can trust) -------------------------
def test_extraction_f1_is_zero_not_none_when_p_plus_r_is_zero() -> None:
    """Spec and official scorer: F1 = 0 when P + R = 0 (both defined and zero)."""
    agg = run([I("u1", P, 1.0, 0), I("u2", P, 1.0, 1)],
              [AccuracyRecord(user="u1", session=0, score=0, is_included=True),
               AccuracyRecord(user="u2", session=0, score=0, is_included=True)])
    assert val(agg, "memory_recall") == 0.0 and val(agg, "target_precision") == 0.0
    assert val(agg, "extraction_f1") == 0.0


@pytest.mark.parametrize("flag, included", [(True, True), ("True", True), ("true", True),
                                            (False, False), ("False", False)])
def test_is_included_accepts_json_booleans_and_strings(flag: Any, included: bool) -> None:
    client = FakeClient([_Res("", json={"reasoning": "r", "accuracy_score": 2,
                                        "is_included_in_golden_memories": flag})])
    v = asyncio.run(LLMJudge(client).accuracy([], [], "m"))
    assert v.valid and v.extra["is_included"] is included and v.extra["is_included_parsed"]


@pytest.mark.parametrize("reply", [{"reasoning": "r", "accuracy_score": 1},
                                   {"reasoning": "r", "accuracy_score": 1,
                                    "is_included_in_golden_memories": "maybe"}])
def test_unparseable_is_included_keeps_the_score_and_counts_as_not_included(reply) -> None:
    """Official rule: the verdict stays valid, its score counts in memory accuracy, the memory
    is not included (so not in target precision); such verdicts are counted and shown."""
    client = FakeClient([_Res("", json=reply)])
    v = asyncio.run(LLMJudge(client).accuracy([], [], "m"))
    assert v.valid and v.score == 1 and v.extra["is_included"] is False
    rec = AccuracyRecord.of("u", 0, v)
    agg = run(accuracy=[rec, AccuracyRecord(user="u", session=0, score=2, is_included=True)])
    assert val(agg, "memory_accuracy") == pytest.approx(0.75)  # (0.5 + 1) / 2
    assert val(agg, "target_precision") == 1.0  # only the included one
    assert agg.details["verdicts"]["accuracy_included_unparsed"] == 1
    assert "1 without a parseable is_included" in " ".join(agg.notes)


class DeletingMemory(OracleMemory):
    """A memory design that deletes the original and adds the new value (instead of editing
    in place), reporting both events, as Mem0 does with DELETE + ADD."""

    def add(self, ns: str, session: Any) -> list[Any]:
        out = []
        for m in super().add(ns, session):
            if m.event == "UPDATE":
                out += [m.model_copy(update={"event": "DELETE", "text": old})
                        for old in m.meta.get("replaced", [])]
                m = m.model_copy(update={"event": "ADD"})
            out.append(m)
        return out


@pytest.mark.parametrize("policy", ["count", "exclude"])
def test_deleted_memories_count_as_extracted_by_default(policy: str, tmp_path: Any) -> None:
    from memeval.run_context import RunContext
    from memeval.tasks.halumem.task import HaluMemSynthTask

    task = HaluMemSynthTask(size="tiny", answerer="oracle", deleted_memories=policy)
    user = next(iter(task.users()))
    samples = [s for s in task.samples() if s.group == user.uuid]

    async def go() -> list[Any]:
        ctx = RunContext(llm=None, system_name="deleting")
        return [p async for p in task.run_group(DeletingMemory(), user.uuid, samples, ctx)]

    preds = asyncio.run(go())
    deleted = sum(e == "DELETE" for p in preds for e in p.meta["events"])
    assert deleted > 0  # the generated user updates facts
    extracted = sum(len(p.meta["extracted"]) for p in preds)
    added = sum(e != "DELETE" for p in preds for e in p.meta["events"])
    assert extracted == (added + deleted if policy == "count" else added)
    agg = task.aggregate([], preds, None)
    assert agg.details["deleted_memories"] == {"reported": deleted, "policy": policy}
    assert f"reported as deleted: {deleted}" in " ".join(agg.notes)
