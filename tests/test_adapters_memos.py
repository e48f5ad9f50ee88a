"""MemOS 2.0.33 (tree_text, simple_struct reader) on pgserver's PostgreSQL + pgvector, in its
own environment, against the real embedded server (SmolLM2-135M) and real LoCoMo turns: what it
stores is found again, and each raw window MemOS stored in place of an extraction (SmolLM2's
reply gave no JSON) is counted; namespaces (MemOS user names) stay apart; a killed worker is a
counted failure after which the adapter carries on with the same PostgreSQL data; the
`general_text` variant stores and finds, or counts the batch it lost. The environment is built
on first use (.venv-systems/memos, a few minutes once)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from memeval.adapters.memory.memos import MemOSSystem
from memeval.contracts import SystemContext
from memeval.jsonworker import WorkerError
from memeval.llm import LLMClient
from memeval.llm_cache import ResponseCache
from memeval.tasks.locomo import loader

pytestmark = pytest.mark.slow


def turns(session_index: int, ids: list[str]):
    s = loader.load()[0].sessions[session_index]
    return s.model_copy(update={"turns": [t for t in s.turns if t.turn_id in ids]})


def lost(counts: dict[str, int]) -> int:
    """Batches that stored nothing: the reader raised, or it gave no memory."""
    return sum(n for k, n in counts.items() if k == "read.no_memory" or
               (k.startswith("read.") and k[5:6].isupper()))


@pytest.fixture(scope="module")
def client(llm_server, tmp_path_factory):
    c = LLMClient(llm_server.endpoint(),
                  cache=ResponseCache(tmp_path_factory.mktemp("m-cache") / "r.sqlite"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def filled(client, tmp_path_factory):
    ctx = SystemContext(storage_dir=tmp_path_factory.mktemp("memos"), llm=client,
                        caller="system:memos")
    system = MemOSSystem(ctx)
    for ns in ("conv/a", "conv/b"):
        system.reset(ns)
    before = system.info()["internal_failures"]
    a = system.add("conv/a", turns(0, ["D1:3"]))
    after_a = system.info()["internal_failures"]
    b = system.add("conv/b", turns(1, ["D2:1"]))
    yield system, a, b, before, after_a
    system.close()


def test_what_it_stores_is_found_and_raw_windows_are_counted(filled):
    system, a, _, before, after = filled
    info = system.info()
    assert info["library"]["MemoryOS"] == "2.0.33"
    assert info["library"]["pgvector"] == "0.6.2"
    assert info["config"]["proxy_calls"] > 0  # the reader's LLM call went through memeval
    raw = [m for m in a if m.meta["raw_window"]]
    # every raw window MemOS stored for this add is a counted failure, never silent
    assert after.get("read.raw_window", 0) - before.get("read.raw_window", 0) == len(raw)
    if a:  # MemOS stored memories: each is found again by its own words, in its namespace
        assert lost(after) == lost(before)
        assert all(m.event == "ADD" and m.memory_id for m in a)
        for m in a:
            assert m.memory_id in {h.memory_id for h in system.search("conv/a", m.text, 10)}
    else:  # nothing stored for the one batch: a counted loss
        assert lost(after) == lost(before) + 1, after
        assert system.search("conv/a", "LGBTQ support group", 5) == []


def test_namespaces_never_see_each_other(filled):
    system, a, b, _, _ = filled
    ids_a, ids_b = {m.memory_id for m in a}, {m.memory_id for m in b}
    for ns, own, other in (("conv/a", ids_a, ids_b), ("conv/b", ids_b, ids_a)):
        for query in ("charity race", "LGBTQ support group", "Caroline", "Melanie"):
            got = {h.memory_id for h in system.search(ns, query, 20)}
            assert not got & other and got <= own
    assert system.search("conv/nobody", "LGBTQ support group", 5) == []


def test_a_killed_worker_is_counted_and_the_store_survives(client, tmp_path):
    ctx = SystemContext(storage_dir=tmp_path, llm=client, caller="system:memos")
    system = MemOSSystem(ctx)
    try:
        system.reset("ns")
        first = system.add("ns", turns(0, ["D1:3"]))  # the reader's reply is a cache hit
        tenants = json.loads((tmp_path / "memos" / "memos-tenants.json").read_text())
        os.kill(system.seat.worker._proc.pid, signal.SIGKILL)  # the fault: the library process dies
        with pytest.raises(WorkerError, match="exited"):
            system.add("ns", turns(0, ["D1:5"]))
        assert system.info()["internal_failures"].get("worker.died") == 1
        # a fresh worker on the same PostgreSQL data (the killed one's server is reused):
        # the namespace keeps its tenant and what was stored before the kill
        for m in first:
            assert m.memory_id in {h.memory_id for h in system.search("ns", m.text, 10)}
        before = system.info()["internal_failures"]
        again = system.add("ns", turns(0, ["D1:5"]))
        counts = system.info()["internal_failures"]
        assert again or lost(counts) == lost(before) + 1, counts  # stored, or a counted loss
        assert json.loads((tmp_path / "memos" / "memos-tenants.json").read_text()) == tenants
        assert counts.get("worker.died") == 1
    finally:
        system.close()


def test_general_text_variant_stores_and_finds_or_counts(client, tmp_path):
    ctx = SystemContext(storage_dir=tmp_path, llm=client, caller="system:memos")
    system = MemOSSystem(ctx, memory="general_text")
    try:
        assert "qdrant-client" in system.info()["library"]
        for ns in ("a", "b"):
            system.reset(ns)
        got = system.add("a", turns(0, ["D1:3"]))
        counts = system.info()["internal_failures"]
        if got:  # extracted: found by its own words, and never from the other namespace
            for m in got:
                assert m.memory_id in {h.memory_id for h in system.search("a", m.text, 10)}
                assert m.memory_id not in {h.memory_id for h in system.search("b", m.text, 10)}
        else:  # no usable JSON: GeneralTextMemory raised, and the batch is counted
            assert sum(n for k, n in counts.items()
                       if k.startswith("extract.") or k == "read.no_memory") == 1, counts
            assert system.search("a", "LGBTQ support group", 5) == []
    finally:
        system.close()
