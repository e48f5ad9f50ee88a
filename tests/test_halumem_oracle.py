"""OracleMemory: stores exactly the gold points, applies updates, and scores perfectly on
halumem-synth through the HaluMem protocol with the exact judge."""

from __future__ import annotations

import asyncio

import pytest

from memeval.adapters.memory.oracle import OracleMemory
from memeval.contracts import MemorySystem
from memeval.errors import UserError
from memeval.records import Session, Turn
from memeval.tasks.halumem import metrics as M
from memeval.tasks.halumem.aggregate import aggregate
from memeval.tasks.halumem.declarations import METRICS
from memeval.tasks.halumem.judges import ExactJudge
from memeval.tasks.halumem.protocol import gold_memory
from memeval.tasks.halumem.schema import HSession, MemoryPoint, User
from memeval.tasks.halumem.synth import generate


def _session(s: HSession, sid: str) -> Session:
    return Session(session_id=sid, timestamp=s.start_time,
                   turns=[Turn(speaker=m.role, role=m.role, text=m.content,
                               timestamp=m.timestamp) for m in s.dialogue],
                   meta={"gold_memories": [gold_memory(p).model_dump() for p in s.memory_points]})


def _gold(*points: MemoryPoint) -> Session:
    """A session carrying these gold points, as the HaluMem protocol hands them to a system
    that declares accepts_gold."""
    return Session(session_id="s", turns=[],
                   meta={"gold_memories": [gold_memory(p).model_dump() for p in points]})


def _pt(index: int, text: str, upd: list[str] | None = None, inter: bool = False) -> MemoryPoint:
    return MemoryPoint(index=index, memory_content=text, memory_type="Persona Memory",
                       memory_source="interference" if inter else "secondary",
                       is_update="True" if upd else "False", original_memories=upd or [],
                       importance=1.0, timestamp="Jan 01, 2030, 10:00:00")


EMPTY = Session(session_id="s", turns=[])


def test_protocol_and_identity() -> None:
    o = OracleMemory()
    assert isinstance(o, MemorySystem)
    assert o.name == "oracle" and o.version and o.capabilities.accepts_gold
    assert o.info()["options"]


def test_add_requires_gold() -> None:
    o = OracleMemory()
    o.reset("ns")
    with pytest.raises(UserError, match="gold memories of each session"):
        o.add("ns", EMPTY)


def test_stores_only_gold_and_applies_updates() -> None:
    o = OracleMemory()
    o.reset("ns")
    added = o.add("ns", _gold(_pt(1, "Ann lives in Oslo"), _pt(2, "Ann works at Acme"),
                              _pt(3, "Ann lives in Rome", inter=True)))
    assert [(m.text, m.event) for m in added] == [("Ann lives in Oslo", "ADD"),
                                                 ("Ann works at Acme", "ADD")]
    oslo_id = added[0].memory_id
    changed = o.add("ns", _gold(
        _pt(1, "Ann now lives in Bergen", upd=["Ann lives in Oslo"]),
        _pt(2, "Ann got a dog", upd=["a memory never stored"]),
        MemoryPoint.model_validate({"index": 3, "memory_content": "Ann works at Acme",
                                    "memory_type": "Persona Memory",
                                    "memory_source": "secondary", "is_update": "False",
                                    "importance": 0.75})))
    assert [(m.text, m.event) for m in changed] == [("Ann now lives in Bergen", "UPDATE"),
                                                   ("Ann got a dog", "ADD"),
                                                   ("Ann works at Acme", "NONE")]
    assert changed[0].memory_id == oslo_id
    assert changed[0].meta["replaced"] == ["Ann lives in Oslo"]
    assert [m.text for m in o.dump("ns")] == ["Ann now lives in Bergen", "Ann works at Acme",
                                             "Ann got a dog"]
    o.reset("ns")
    assert o.dump("ns") == []


def test_gold_comes_as_pack_neutral_records() -> None:
    o = OracleMemory()
    s = Session(session_id="s", turns=[], meta={"gold_memories": [
        {"text": "Ann likes tea", "memory_id": "7", "kind": "Persona Memory"},
        {"text": "Ann likes war", "distractor": True}]})
    got = o.add("ns", s)
    assert [m.text for m in got] == ["Ann likes tea"] and got[0].meta["gold_id"] == "7"


def test_search_overlap_and_recency_ties() -> None:
    o = OracleMemory()
    o.add("ns", _gold(_pt(1, "Ann plays chess"), _pt(2, "Ann plays tennis"),
                      _pt(3, "Bob plays chess on Sundays"), _pt(4, "The sky is blue")))
    hits = o.search("ns", "Does Ann play chess?", k=10)
    assert [h.text for h in hits][:1] == ["Ann plays chess"]  # both rare words match
    assert "The sky is blue" not in [h.text for h in hits]  # no overlap -> not returned
    assert all(h.score is not None and h.score > 0 for h in hits)
    # equal scores: the most recently written wins
    tie = o.search("ns", "tennis or Sundays", k=2)
    assert [h.text for h in tie] == ["Bob plays chess on Sundays", "Ann plays tennis"]
    assert len(o.search("ns", "plays", k=1)) == 1
    assert o.search("other-ns", "chess", k=5) == []


def test_oracle_scores_perfectly_on_synth() -> None:
    """The spec's sanity property: R = 1, FMR = 1, updates correct; every answerable
    question's evidence is retrieved in the top 20 (what the answer LLM then needs)."""
    judge, oracle = ExactJudge(), OracleMemory()
    integ: list[M.IntegrityRecord] = []
    acc: list[M.AccuracyRecord] = []
    upd: list[M.UpdateRecord] = []

    async def run() -> None:
        for raw in generate("small", seed=5):
            u = User.model_validate(raw)
            oracle.reset(u.uuid)
            for i, s in enumerate(u.sessions):
                extracted = [m.text for m in oracle.add(u.uuid, _session(s, str(i)))]
                assert sorted(extracted) == sorted(p.memory_content for p in s.gold_points)
                hits = {p.index: [h.text for h in oracle.search(u.uuid, p.memory_content, 10)]
                        for p in s.memory_points if p.updated and p.original_memories}
                to_integrity, to_update = M.route_points(s.memory_points, hits)
                for p in to_integrity:
                    integ.append(M.IntegrityRecord.of(u.uuid, i, p,
                                                      await judge.integrity(extracted, p)))
                for p in to_update:
                    upd.append(M.UpdateRecord.of(u.uuid, i, p,
                                                 await judge.update(hits[p.index], p)))
                for text in extracted:
                    acc.append(M.AccuracyRecord.of(
                        u.uuid, i, await judge.accuracy(s.dialogue, s.memory_points, text)))
                for q in s.questions:
                    got = {h.text for h in oracle.search(u.uuid, q.question, 20)}
                    assert {e.memory_content for e in q.evidence} <= got, q.question

    asyncio.run(run())
    scores = [s for n, rec in enumerate([*integ, *acc, *upd])
              for s in M.items(rec, f"{rec.user}/{n}", rec.user)]
    m = aggregate(METRICS, scores, [])
    assert upd and m.details["verdicts"]["interference"] > 0
    for key in ("memory_recall", "weighted_recall", "fmr", "memory_accuracy",
                "target_precision", "extraction_f1", "update_correct"):
        assert m.metrics[key].overall.all.mean == 1.0, key
