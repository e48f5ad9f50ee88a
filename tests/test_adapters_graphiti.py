"""Graphiti 0.22.0 on embedded Kuzu, in its own environment, against the real embedded server
(SmolLM2-135M) and real LoCoMo turns: what it stores is found again, or, where SmolLM2 gives
Graphiti nothing to store, the loss is counted; namespaces (group ids) stay apart; a killed
worker is a counted failure after which the adapter carries on with the same store. The
environment is built on first use (.venv-systems/graphiti, a few minutes once)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from memeval.adapters.memory.graphiti import GraphitiSystem
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
    """Episodes that left nothing: no edge, or add_episode raised."""
    return sum(n for k, n in counts.items() if k == "add.no_edge" or
               (k.startswith("add.") and k[4:5].isupper()))


@pytest.fixture(scope="module")
def client(llm_server, tmp_path_factory):
    c = LLMClient(llm_server.endpoint(),
                  cache=ResponseCache(tmp_path_factory.mktemp("g-cache") / "r.sqlite"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def filled(client, tmp_path_factory):
    ctx = SystemContext(storage_dir=tmp_path_factory.mktemp("graphiti"), llm=client,
                        caller="system:graphiti")
    system = GraphitiSystem(ctx, episode="turn")
    for ns in ("conv/a", "conv/b"):
        system.reset(ns)
    before = lost(system.info()["internal_failures"])
    a = system.add("conv/a", turns(0, ["D1:3"]))
    after_a = lost(system.info()["internal_failures"])
    b = system.add("conv/b", turns(1, ["D2:1"]))
    yield system, a, b, after_a - before
    system.close()


def test_what_it_stores_is_found_or_the_loss_is_counted(filled):
    system, a, _, lost_a = filled
    info = system.info()
    assert info["library"] == {"graphiti-core": "0.22.0", "kuzu": "0.11.3"}
    assert info["config"]["proxy_calls"] > 0  # Graphiti's LLM calls went through memeval
    if a:  # Graphiti stored facts: each is found again by its own words
        assert lost_a == 0
        assert all(m.event in ("ADD", "NONE", "UPDATE") and m.memory_id for m in a)
        for m in a:
            assert m.memory_id in {h.memory_id for h in system.search("conv/a", m.text, 10)}
    else:  # SmolLM2 gave it nothing: the one episode is a counted loss, never silent
        assert lost_a == 1, info["internal_failures"]
        assert system.search("conv/a", "LGBTQ support group", 5) == []


def test_namespaces_never_see_each_other(filled):
    system, a, b, _ = filled
    ids_a, ids_b = {m.memory_id for m in a}, {m.memory_id for m in b}
    for ns, own, other in (("conv/a", ids_a, ids_b), ("conv/b", ids_b, ids_a)):
        for query in ("charity race", "LGBTQ support group", "Caroline", "Melanie"):
            got = {h.memory_id for h in system.search(ns, query, 20)}
            assert not got & other and got <= own
    assert system.search("conv/nobody", "LGBTQ support group", 5) == []


def test_a_killed_worker_is_counted_and_the_store_survives(client, tmp_path):
    ctx = SystemContext(storage_dir=tmp_path, llm=client, caller="system:graphiti")
    system = GraphitiSystem(ctx, episode="turn")
    try:
        system.reset("ns")
        groups = json.loads((tmp_path / "graphiti-groups.json").read_text())
        os.kill(system.seat.worker._proc.pid, signal.SIGKILL)  # the fault: the library process dies
        with pytest.raises(WorkerError, match="exited"):
            system.add("ns", turns(0, ["D1:3"]))
        assert system.info()["internal_failures"].get("worker.died") == 1
        before = lost(system.info()["internal_failures"])
        again = system.add("ns", turns(0, ["D1:3"]))  # a fresh worker on the same Kuzu store
        counts = system.info()["internal_failures"]
        assert again or lost(counts) == before + 1, counts  # stored, or a counted loss
        # the same group id: the restarted worker kept the namespace's graph
        assert json.loads((tmp_path / "graphiti-groups.json").read_text()) == groups
        assert counts.get("worker.died") == 1
    finally:
        system.close()
