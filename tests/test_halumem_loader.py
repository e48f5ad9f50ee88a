"""HaluMem loader: the real user record, streaming, and UserError on malformed data."""

from __future__ import annotations

import inspect
import json
import sys
import types
from pathlib import Path

import pytest
from shared_data import HALUMEM_USER, shared_path

from memeval.errors import UserError
from memeval.tasks.halumem import load_users
from memeval.fileio import sha256_file as file_sha256
from memeval.tasks.halumem.loader import iter_hub
from memeval.tasks.halumem.synth import generate

REAL_SHA256 = "0e8d41cfbc1d6f16c000ce462a698f16bc3f5c7f158999bcefc0539b271bbfb8"


def test_real_user_counts() -> None:
    users = list(load_users(shared_path(HALUMEM_USER)))
    assert len(users) == 1
    u = users[0]
    assert u.uuid == "4fd09df4-d0df-ff7e-bb39-5f4faedfac2c"
    assert u.name == "Sharon Brown"
    assert u.stats() == {"sessions": 62, "distractor_sessions": 0, "messages": 2720,
                         "memory_points": 686, "interference": 126, "updates": 145,
                         "questions": 161}
    assert u.total_question_count == 161


def test_real_user_field_semantics() -> None:
    u = next(load_users(shared_path(HALUMEM_USER)))
    points = [p for s in u.sessions for p in s.memory_points]
    # is_update stays the official string; .updated is the bool view.
    assert {p.is_update for p in points} == {"True", "False"}
    assert all(p.updated == (p.is_update == "True") for p in points)
    # Interference points carry the reference fields; no update is an interference point.
    inter = [p for p in points if p.is_interference]
    assert all(p.reference_memory_content and p.reason for p in inter)
    assert not any(p.updated for p in inter)
    # Every update in this user lists what it replaces.
    assert all(p.original_memories for p in points if p.updated)
    # Memory Boundary gold answers are free text ("This information is not provided.").
    qs = [q for s in u.sessions for q in s.questions]
    boundary = [q for q in qs if q.question_type == "Memory Boundary"]
    assert len(boundary) == 43 and all(q.unanswerable and not q.evidence for q in boundary)
    assert not any(q.unanswerable for q in qs if q.question_type != "Memory Boundary")
    # question_count is absent when a session has no questions: defaults to 0.
    assert all(s.question_count == len(s.questions) for s in u.sessions)
    assert file_sha256(shared_path(HALUMEM_USER)) == REAL_SHA256


def test_load_users_streams(tmp_path: Path) -> None:
    path = tmp_path / "synth.jsonl"
    path.write_text("".join(json.dumps(u) + "\n" for u in generate("tiny", 0)))
    it = load_users(path)
    assert inspect.isgenerator(it)
    first = next(it)
    assert first.sessions and len(list(it)) == 1
    assert len(list(load_users(path, limit=1))) == 1


def _lines(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    good = json.dumps(generate("tiny", 0)[0])
    path = _lines(tmp_path, "HaluMem-Medium.jsonl", [good, '{"uuid": "x", "sessions": [', good])
    with pytest.raises(UserError) as e:
        list(load_users(path))
    msg = str(e.value)
    assert "HaluMem-Medium.jsonl line 2: not valid JSON" in msg


def test_schema_violation_names_file_line_and_field(tmp_path: Path) -> None:
    users = generate("tiny", 0) + generate("tiny", 1)[:1]
    users[2]["sessions"][2]["memory_points"][1]["is_update"] = True  # a bool, not "True"
    # A blank line must not shift the reported line numbers.
    path = _lines(tmp_path, "HaluMem-Medium.jsonl",
                  [json.dumps(users[0]), "", json.dumps(users[1]), json.dumps(users[2])])
    with pytest.raises(UserError) as e:
        list(load_users(path))
    assert str(e.value).endswith(
        "HaluMem-Medium.jsonl line 4: sessions[2].memory_points[1].is_update: "
        "Input should be 'True' or 'False'")


def test_missing_field_and_extra_errors_counted(tmp_path: Path) -> None:
    user = generate("tiny", 0)[0]
    del user["sessions"][0]["dialogue"][3]["role"]
    user["sessions"][1]["questions"][0]["question_type"] = "Trivia"
    path = _lines(tmp_path, "u.jsonl", [json.dumps(user)])
    with pytest.raises(UserError, match=r"u\.jsonl line 1: sessions\[0\]\.dialogue\[3\]\.role: "
                                        r"Field required \(and 1 more error\)"):
        list(load_users(path))


def test_top_level_not_an_object(tmp_path: Path) -> None:
    path = _lines(tmp_path, "u.jsonl", ["[1, 2]"])
    with pytest.raises(UserError, match=r"line 1: \(top level\)"):
        list(load_users(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        list(load_users(tmp_path / "nope.jsonl"))


def test_hub_without_package_says_how_to_get_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import -> ImportError
    with pytest.raises(UserError) as e:
        next(iter_hub("medium"))
    msg = str(e.value)
    assert "HaluMem-Medium.jsonl" in msg and "--data PATH" in msg and "halumem-synth" in msg


def test_hub_offline_and_online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = types.ModuleType("huggingface_hub")

    def offline(**kw: object) -> str:
        raise OSError("offline mode is enabled")

    fake.hf_hub_download = offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    with pytest.raises(UserError, match="could not get HaluMem-Long.jsonl.*--data PATH"):
        next(iter_hub("long"))

    local = tmp_path / "HaluMem-Medium.jsonl"
    local.write_text(json.dumps(generate("tiny", 0)[0]) + "\n")
    seen: dict[str, object] = {}

    def online(**kw: object) -> str:
        seen.update(kw)
        return str(local)

    fake.hf_hub_download = online  # type: ignore[attr-defined]
    assert len(list(iter_hub("medium"))) == 1
    assert seen["repo_id"] == "IAAR-Shanghai/HaluMem" and seen["repo_type"] == "dataset"
    assert seen["filename"] == "HaluMem-Medium.jsonl"
    with pytest.raises(UserError, match="unknown HaluMem variant 'short'"):
        next(iter_hub("short"))
