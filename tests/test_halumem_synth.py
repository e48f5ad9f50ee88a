"""halumem-synth: deterministic, schema-valid, gold true of the dialogue by construction."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from memeval.errors import UserError
from memeval.tasks.halumem import load_users
from memeval.tasks.halumem.judges import ExactJudge
from memeval.tasks.halumem.schema import QUESTION_TYPES, User, contains
from memeval.tasks.halumem.synth import SIZES, generate, write_jsonl


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> list[User]:
    path = write_jsonl(tmp_path_factory.mktemp("synth") / "tiny.jsonl", "tiny", seed=0)
    return list(load_users(path))  # also proves the output passes the loader's validation


@pytest.fixture(scope="module")
def small() -> list[User]:
    return [User.model_validate(u) for u in generate("small", seed=3)]


def test_deterministic_bytes(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", "tiny", seed=7).read_bytes()
    b = write_jsonl(tmp_path / "b.jsonl", "tiny", seed=7).read_bytes()
    c = write_jsonl(tmp_path / "c.jsonl", "tiny", seed=8).read_bytes()
    assert a == b and a != c
    assert a.count(b"\n") == 2  # one user per line


def test_deterministic_without_faker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faker", None)  # the fallback lists must work too
    a, b = generate("tiny", 1), generate("tiny", 1)
    assert a == b
    [User.model_validate(u) for u in a]


def test_sizes_and_unknown_size() -> None:
    assert SIZES["tiny"] == (2, 3)
    users = [User.model_validate(u) for u in generate("tiny")]
    assert [len(u.sessions) for u in users] == [3, 3]
    with pytest.raises(UserError, match=r"unknown halumem-synth size 'huge' \(valid: tiny, "
                                        r"small, medium\)"):
        generate("huge")


def test_all_six_question_types_per_user(tiny: list[User]) -> None:
    for u in tiny:
        assert {q.question_type for s in u.sessions for q in s.questions} == set(QUESTION_TYPES)
        assert u.total_question_count == sum(len(s.questions) for s in u.sessions)


def test_answers_come_from_evidence(small: list[User]) -> None:
    for u in small:
        for s in u.sessions:
            for q in s.questions:
                if q.question_type == "Memory Boundary":
                    assert q.answer == "unknown" and q.evidence == [] and q.unanswerable
                else:
                    assert q.evidence and not q.unanswerable
                    assert any(contains(e.memory_content, q.answer) for e in q.evidence), q


def test_updates_reference_existing_old_contents(small: list[User]) -> None:
    n_updates = 0
    for u in small:
        seen: set[str] = set()
        for s in u.sessions:
            for p in s.memory_points:
                if p.updated:
                    n_updates += 1
                    assert p.original_memories
                    assert all(o in seen for o in p.original_memories), p
            seen |= {p.memory_content for p in s.gold_points}
    assert n_updates > 0


def test_interference_only_in_assistant_turns(small: list[User]) -> None:
    n = 0
    for u in small:
        user_text = [m.content for s in u.sessions for m in s.dialogue if m.role == "user"]
        for s in u.sessions:
            said = [m.content for m in s.dialogue if m.role == "assistant"]
            for p in s.memory_points:
                if p.is_interference:
                    n += 1
                    assert p.reason and p.reference_memory_content
                    assert any(p.memory_content in a for a in said)
                    assert not any(contains(t, p.memory_content) for t in user_text)
                    assert not any(contains(g.memory_content, p.memory_content)
                                   for s2 in u.sessions for g in s2.gold_points)
    assert n > 0


def test_gold_points_stated_by_the_user_in_their_session(small: list[User]) -> None:
    for u in small:
        for s in u.sessions:
            user_turns = [m.content for m in s.dialogue if m.role == "user"]
            for p in s.gold_points:
                assert p.memory_source in ("primary", "secondary")
                assert any(p.memory_content in t for t in user_turns), p.memory_content
            assert s.memory_points_count == len(s.memory_points)
            assert s.dialogue_turn_num * 2 == len(s.dialogue)


def test_exact_judge_on_gold_as_extraction(small: list[User]) -> None:
    judge = ExactJudge()

    async def scores() -> list[tuple[bool, int | None]]:
        out = []
        for u in small:
            for s in u.sessions:
                extracted = [p.memory_content for p in s.gold_points]
                for p in s.memory_points:
                    out.append((p.is_interference, (await judge.integrity(extracted, p)).score))
        return out

    got = asyncio.run(scores())
    assert {sc for inter, sc in got if not inter} == {2}
    assert {sc for inter, sc in got if inter} == {0}


def test_deterministic_across_processes(tmp_path: Path) -> None:
    # Guards against hash-order dependence (PYTHONHASHSEED differs per process).
    import os
    import subprocess

    outs = []
    for h in ("1", "2"):
        out = tmp_path / f"s{h}.jsonl"
        subprocess.run([sys.executable, "-m", "memeval.tasks.halumem.synth", "--size", "tiny",
                        "--seed", "4", "--out", str(out)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": h})
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == write_jsonl(tmp_path / "here.jsonl", "tiny", 4).read_bytes()
