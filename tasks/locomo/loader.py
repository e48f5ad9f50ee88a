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

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError

from memeval.errors import UserError, validation_message
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


class _Raw(BaseModel):
    """The file's own structure, validated strictly (a number is not a speaker) so a corrupted
    file ends in one UserError naming the conversation and the field path."""

    model_config = ConfigDict(extra="allow")


class RawTurn(_Raw):
    speaker: StrictStr
    text: StrictStr
    dia_id: StrictStr | None = None
    blip_caption: StrictStr | None = None


class RawQA(_Raw):
    question: StrictStr
    category: StrictInt
    answer: StrictStr | StrictInt | StrictFloat | None = None  # six answers are numbers
    evidence: list[StrictStr] = []
    adversarial_answer: StrictStr | StrictInt | StrictFloat | None = None


class RawConversation(_Raw):
    sample_id: StrictStr | StrictInt
    conversation: dict[str, Any]
    qa: list[RawQA]


class RawSpeakers(_Raw):
    speaker_a: StrictStr
    speaker_b: StrictStr


_TURNS = TypeAdapter(list[RawTurn])
_STAMP = TypeAdapter(StrictStr | None)


def _valid(adapter: Any, value: Any, where: str, path: tuple[Any, ...]) -> Any:
    try:
        if isinstance(adapter, type):
            return adapter.model_validate(value)
        return adapter.validate_python(value)
    except ValidationError as e:
        raise UserError(f"{where}: {validation_message(e, path)}") from None


def load(path: Path | str | None = None) -> list[Conversation]:
    path = Path(path) if path else bundled_path()
    if not path.is_file():
        raise UserError(f"LoCoMo data file not found: {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path} line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from e
    if not isinstance(raw, list):
        raise UserError(f"{path}: expected a JSON list of conversations, got {type(raw).__name__}")
    return [_conversation(path, i, item) for i, item in enumerate(raw)]


def _conversation(path: Path, i: int, item: Any) -> Conversation:
    name = item.get("sample_id") if isinstance(item, dict) else None
    where = f"{path}: conversation #{i}" + (f" ({name})" if isinstance(name, str) else "")
    c: RawConversation = _valid(RawConversation, item, where, ())
    sid = str(c.sample_id)
    speakers: RawSpeakers = _valid(RawSpeakers, c.conversation, where, ("conversation",))
    sessions = []
    for n in sorted(int(m.group(1)) for k in c.conversation if (m := _SESSION_KEY.match(k))):
        key = f"session_{n}"
        turns_raw = _valid(_TURNS, c.conversation[key], where, ("conversation", key))
        if not turns_raw:
            continue  # an empty session list is not a session
        stamp = _valid(_STAMP, c.conversation.get(f"{key}_date_time"), where,
                       ("conversation", f"{key}_date_time"))
        turns = [Turn(speaker=t.speaker, text=render_turn_text(t.model_dump()),
                      turn_id=t.dia_id, timestamp=stamp) for t in turns_raw]
        sessions.append(Session(session_id=f"{sid}/S{n}", timestamp=stamp, turns=turns))
    known_ids = {t.turn_id for s in sessions for t in s.turns}
    qa = [_qa(where, j, q, known_ids) for j, q in enumerate(c.qa)]
    return Conversation(sid, speakers.speaker_a, speakers.speaker_b, sessions, qa)


def _qa(where: str, j: int, q: RawQA, known_ids: set[str | None]) -> QA:
    if q.category not in (1, 2, 3, 4, 5):
        raise UserError(f"{where}: qa[{j}].category {q.category} is not one of 1..5")
    if q.answer is None and q.category != 5:
        raise UserError(f"{where}: qa[{j}] (category {q.category}) has no 'answer'")
    evidence, bad = [], []
    for e in q.evidence:
        (evidence if _DIA_ID.match(e) and e in known_ids else bad).append(e)
    adv = q.adversarial_answer
    return QA(j, q.question, q.category, None if q.answer is None else str(q.answer),
              None if adv is None else str(adv), evidence, bad)


def defect_report(conversations: list[Conversation]) -> list[str]:
    """Evidence ids that name no turn: malformed ("D8:6; D9:17", "D") or dangling (D30:05),
    kept verbatim with the question (data_cards/locomo.md)."""
    out = []
    for c in conversations:
        for q in c.qa:
            for e in q.bad_evidence:
                kind = "dangling (no such turn)" if _DIA_ID.match(e) else "malformed"
                out.append(f"{c.sample_id} qa[{q.index}] (category {q.category}): evidence "
                           f"{e!r} {kind}")
    return out
