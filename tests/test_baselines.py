"""Baseline memory systems on real LoCoMo turns."""

import pytest

from memeval.adapters.memory.baselines import FullContext, NoMemory
from memeval.adapters.memory.rag import BM25Memory, DenseMemory
from memeval.errors import UserError
from memeval.tasks.locomo import loader
from shared_data import LOCOMO, shared_path


@pytest.fixture(scope="module")
def conv():
    return loader.load(shared_path(LOCOMO))[0]


@pytest.mark.parametrize("cls", [BM25Memory, DenseMemory])
def test_search_finds_the_evidence_turn(cls, conv):
    mem = cls(None)
    mem.reset("c")
    for s in conv.sessions[:3]:
        mem.add("c", s)
    hits = mem.search("c", "When did Caroline go to the LGBTQ support group?", 5)
    assert len(hits) == 5
    assert "D1:3" in [h.memory_id for h in hits]  # the question's gold evidence
    assert hits[0].score is not None and hits[0].score >= hits[-1].score


@pytest.mark.parametrize("cls", [BM25Memory, DenseMemory, FullContext])
def test_namespaces_are_isolated(cls, conv):
    mem = cls(None)
    mem.reset("a")
    mem.reset("b")
    mem.add("a", conv.sessions[0])
    assert mem.search("b", "support group", 5) == []
    assert mem.search("a", "support group", 5)


def test_chunks_and_topk_options(conv):
    mem = BM25Memory(None, k=3, chunk=2)
    mem.reset("c")
    added = mem.add("c", conv.sessions[0])
    assert len(added) == (len(conv.sessions[0].turns) + 1) // 2
    assert len(mem.search("c", "painting", 10)) == 3  # the configured k wins
    with pytest.raises(UserError):
        BM25Memory(None, chunk=0)


def test_full_context_returns_everything_in_order_and_no_memory_nothing(conv):
    full = FullContext(None)
    full.reset("c")
    for s in conv.sessions[:2]:
        full.add("c", s)
    got = full.search("c", "anything", 1)
    assert len(got) == len(conv.sessions[0].turns) + len(conv.sessions[1].turns)
    assert got[0].memory_id == "D1:1" and got[0].text.startswith("[1:56 pm on 8 May, 2023] Caroline:")
    none = NoMemory(None)
    assert none.add("c", conv.sessions[0]) == [] and none.search("c", "x", 5) == []
