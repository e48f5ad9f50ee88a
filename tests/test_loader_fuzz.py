"""Seeded structural fuzzing of both data loaders: hundreds of mutations of real-shaped files
(deleted keys, values of the wrong type, truncation, bad encodings). The only acceptable
outcomes are "it loads" and a memeval UserError (one message naming the file); a traceback of
any other exception fails, with the mutation that caused it."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from memeval.errors import UserError
from memeval.tasks.halumem.loader import load_users
from memeval.tasks.halumem.synth import generate
from memeval.tasks.locomo import loader as locomo
from shared_data import LOCOMO, shared_path

N = 300
WRONG = [None, [], {}, 0, 1.5, True, "x", ["a", 1], {"k": None}]


def _slots(obj: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, container) for every key or index inside obj."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((path + (k,), obj))
            out += _slots(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append((path + (i,), obj))
            out += _slots(v, path + (i,))
    return out


def mutate(base: Any, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of `base`, as (what was done, file bytes)."""
    kind = rng.choice(["delete", "wrong_type", "wrong_type", "truncate", "encoding"])
    data = copy.deepcopy(base)
    if kind in ("delete", "wrong_type"):
        path, container = rng.choice(_slots(data))
        key = path[-1]
        if kind == "delete":
            del container[key]
        else:
            container[key] = copy.deepcopy(rng.choice(WRONG))
        return f"{kind} {path}", json.dumps(data).encode()
    raw = json.dumps(data, ensure_ascii=False).encode()
    if kind == "truncate":
        cut = rng.randrange(1, len(raw))
        return f"truncate at {cut}", raw[:cut]
    at = rng.randrange(len(raw))
    junk = rng.choice([b"\xff\xfe", b"\xc3", b"\x80\x80", "é".encode("latin-1")])
    return f"bad bytes {junk!r} at {at}", raw[:at] + junk + raw[at:]


def _check(load: Any, path: Path, what: str) -> str:
    try:
        load(path)
        return "loads"
    except UserError as e:
        assert str(path) in str(e) and "\n" not in str(e).strip(), (what, str(e))
        return "user error"
    except Exception as e:  # noqa: BLE001 - exactly what the test must catch
        pytest.fail(f"{what}: {type(e).__name__}: {e}")


def _locomo_base() -> list[dict[str, Any]]:
    conv = json.loads(shared_path(LOCOMO).read_text(encoding="utf-8"))[0]
    keep = {k: v for k, v in conv["conversation"].items()
            if k in ("speaker_a", "speaker_b") or k.split("_")[1] in ("1", "2")}
    keep["session_1"], keep["session_2"] = keep["session_1"][:3], keep["session_2"][:3]
    return [{"sample_id": conv["sample_id"], "conversation": keep, "qa": conv["qa"][:4]}]


def test_locomo_loader_survives_structural_mutations(tmp_path: Path) -> None:
    rng, base = random.Random(20261201), _locomo_base()
    outcomes = {"loads": 0, "user error": 0}
    for i in range(N):
        what, raw = mutate(base, rng)
        path = tmp_path / f"m{i}.json"
        path.write_bytes(raw)
        outcomes[_check(locomo.load, path, what)] += 1
    assert outcomes["user error"] > N / 3 and outcomes["loads"] > 0, outcomes


def test_halumem_loader_survives_structural_mutations(tmp_path: Path) -> None:
    rng, base = random.Random(20261202), generate("tiny", 0)[0]
    outcomes = {"loads": 0, "user error": 0}
    for i in range(N):
        what, raw = mutate(base, rng)
        path = tmp_path / f"m{i}.jsonl"
        path.write_bytes(raw + b"\n")
        outcomes[_check(lambda p: list(load_users(p)), path, what)] += 1
    assert outcomes["user error"] > N / 3 and outcomes["loads"] > 0, outcomes


@pytest.mark.parametrize("turn", [{"speaker": None, "dia_id": "D1:1", "text": "hi"},
                                  {"speaker": ["A"], "dia_id": "D1:1", "text": "hi"},
                                  {"speaker": "A", "dia_id": 7, "text": "hi"},
                                  {"speaker": "A", "dia_id": "D1:1", "text": None}])
def test_a_bad_turn_names_conversation_and_field(tmp_path: Path, turn: dict) -> None:
    """The cases named in the issue: speaker or dia_id null, a list or a number."""
    base = _locomo_base()
    base[0]["conversation"]["session_2"][1] = turn
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(base))
    with pytest.raises(UserError, match=r"conversation #0 \(conv-26\): conversation\."
                                        r"session_2\[1\]\.(speaker|dia_id|text): "):
        locomo.load(path)
