"""LoCoMo loader that survives every known quirk of locomo10.json (see data_cards/locomo.md).

Quirks handled: sessions are keyed on their turn lists (conv-26 has date keys for sessions
20-35 without turns); category-5 items carry `adversarial_answer` and usually no `answer`; some
answers are ints; malformed evidence strings and a dangling evidence id are kept verbatim and
flagged; image turns become "<text> and shared <blip_caption>".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from memeval.errors import UserError
from memeval.records import Session, Turn

EXPECTED_SHA256 = "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"
_SESSION_KEY = re.compile(r"^session_(\d+)$")
_DIA_ID = re.compile(r"^D(\d+):(\d+)$")


@dataclass
class QA:
    index: int
    question: str
    category: int
    answer: str | None  # None for most category-5 items
    adversarial_answer: str | None
    evidence: list[str]
    bad_evidence: list[str] = field(default_factory=list)  # malformed or dangling ids


@dataclass
class Conversation:
    sample_id: str
    speaker_a: str
    speaker_b: str
    sessions: list[Session]
    qa: list[QA]

    @property
    def n_turns(self) -> int:
        return sum(len(s.turns) for s in self.sessions)


def bundled_path() -> Path:
    return Path(str(resources.files("memeval.tasks.locomo") / "data" / "locomo10.json"))


def render_turn_text(raw: dict[str, Any]) -> str:
    text = str(raw.get("text", "")).strip()
    caption = raw.get("blip_caption")
    return f"{text} and shared {caption}" if caption else text


def load(path: Path | str | None = None) -> list[Conversation]:
    path = Path(path) if path else bundled_path()
    if not path.exists():
        raise UserError(f"LoCoMo data file not found: {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path} line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from e
    if not isinstance(raw, list):
        raise UserError(f"{path}: expected a JSON list of conversations, got {type(raw).__name__}")
    return [_conversation(path, i, item) for i, item in enumerate(raw)]


def _conversation(path: Path, i: int, item: Any) -> Conversation:
    where = f"{path}: conversation #{i}"
    if not isinstance(item, dict):
        raise UserError(f"{where}: expected an object")
    for key in ("sample_id", "conversation", "qa"):
        if key not in item:
            raise UserError(f"{where}: missing field {key!r}")
    sid = str(item["sample_id"])
    conv = item["conversation"]
    where = f"{path}: {sid}"
    try:
        a, b = conv["speaker_a"], conv["speaker_b"]
    except KeyError as e:
        raise UserError(f"{where}: conversation lacks {e.args[0]!r}") from e
    sessions = []
    for n in sorted(int(m.group(1)) for k in conv if (m := _SESSION_KEY.match(k))):
        turns_raw = conv[f"session_{n}"]
        if not turns_raw:
            continue  # an empty session list is not a session
        stamp = conv.get(f"session_{n}_date_time")
        turns = []
        for j, t in enumerate(turns_raw):
            if not isinstance(t, dict) or "speaker" not in t or "text" not in t:
                raise UserError(f"{where}: session_{n}[{j}] needs 'speaker' and 'text'")
            turns.append(Turn(speaker=t["speaker"], text=render_turn_text(t),
                              turn_id=t.get("dia_id"), timestamp=stamp))
        sessions.append(Session(session_id=f"{sid}/S{n}", timestamp=stamp, turns=turns))
    known_ids = {t.turn_id for s in sessions for t in s.turns}
    qa = [_qa(where, j, q, known_ids) for j, q in enumerate(item["qa"])]
    return Conversation(sid, a, b, sessions, qa)


def _qa(where: str, j: int, q: Any, known_ids: set[str | None]) -> QA:
    if not isinstance(q, dict) or "question" not in q or "category" not in q:
        raise UserError(f"{where}: qa[{j}] needs 'question' and 'category'")
    try:
        cat = int(q["category"])
    except (TypeError, ValueError) as e:
        raise UserError(f"{where}: qa[{j}].category {q['category']!r} is not an integer") from e
    if cat not in (1, 2, 3, 4, 5):
        raise UserError(f"{where}: qa[{j}].category {cat} is not one of 1..5")
    answer = q.get("answer")
    if answer is None and cat != 5:
        raise UserError(f"{where}: qa[{j}] (category {cat}) has no 'answer'")
    evidence, bad = [], []
    for e in q.get("evidence") or []:
        e = str(e)
        (evidence if _DIA_ID.match(e) and e in known_ids else bad).append(e)
    adv = q.get("adversarial_answer")
    return QA(j, str(q["question"]), cat, None if answer is None else str(answer),
              None if adv is None else str(adv), evidence, bad)
