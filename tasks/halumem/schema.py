"""HaluMem data schema (pydantic v2), keeping the official field names.

One JSONL line is one `User`. Field names and string encodings follow the released files
(`is_update` is the STRING "True"/"False"), so a parsed user dumps back to the same keys.
Unknown keys are kept (`extra="allow"`) because HaluMem-Long adds bookkeeping fields to its
generated sessions; the user-level `token_cost` is dropped (generation cost, not data).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The pack's text matching (exact judge, oracle answers) is memeval's word-level matcher.
from memeval.metrics.text import contains_words as contains  # noqa: F401
from memeval.metrics.text import normalize_words as normalize  # noqa: F401

TIME_FORMAT = "%b %d, %Y, %H:%M:%S"  # e.g. "Feb 13, 2029, 10:51:39"

MemoryType = Literal["Persona Memory", "Event Memory", "Relationship Memory"]
MemorySource = Literal["primary", "secondary", "system", "interference"]
QuestionType = Literal[
    "Basic Fact Recall",
    "Multi-hop Inference",
    "Dynamic Update",
    "Memory Boundary",
    "Generalization & Application",
    "Memory Conflict",
]
Difficulty = Literal["easy", "medium", "hard"]

MEMORY_TYPES: tuple[str, ...] = MemoryType.__args__  # type: ignore[attr-defined]
QUESTION_TYPES: tuple[str, ...] = QuestionType.__args__  # type: ignore[attr-defined]
DIFFICULTIES: tuple[str, ...] = Difficulty.__args__  # type: ignore[attr-defined]

# Gold answers of Memory Boundary questions are free text in the real data ("Unknown.",
# "This information is not provided.", "Sharon Brown's middle name is not provided."), so
# "unknown" is recognised by phrase, not by equality.
_UNKNOWN_RE = re.compile(
    r"\b(unknown|not (?:provided|mentioned|specified|stated|known|available|given|recorded)"
    r"|no (?:information|record|mention)|(?:do|does|did)\s?n[o']?t know|dont know"
    r"|cannot be determined|can ?not determine|not enough information)\b",
    re.IGNORECASE,
)


def says_unknown(text: str) -> bool:
    """True when a text declares the information unknown / not given."""
    return bool(_UNKNOWN_RE.search(text))


def parse_time(value: str) -> datetime:
    """Parse a HaluMem timestamp ("Sep 04, 2025, 10:44:31")."""
    return datetime.strptime(value, TIME_FORMAT)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Message(_Model):
    role: Literal["user", "assistant"]
    content: str
    # HaluMem-Long pads sessions with inserted QA turns that may lack a timestamp.
    timestamp: str | None = None
    dialogue_turn: int | None = None


class MemoryPoint(_Model):
    index: int
    memory_content: str
    memory_type: MemoryType
    memory_source: MemorySource
    is_update: Literal["True", "False"]
    original_memories: list[str] = Field(default_factory=list)
    timestamp: str | None = None
    importance: float
    # Interference points only.
    reason: str | None = None
    source_memory_index: int | None = None
    reference_memory_content: str | None = None
    reference_memory_index: int | None = None
    reference_memory_type: str | None = None
    # Present on some "system" points of the real data (index of the generating event).
    event_source: int | None = None

    @property
    def updated(self) -> bool:
        return self.is_update == "True"

    @property
    def is_interference(self) -> bool:
        """A distractor the assistant injected: a good system must NOT store it."""
        return self.memory_source == "interference"


class Evidence(_Model):
    memory_content: str
    # Free string: the real data has "[Persona Memory]" once besides the three plain values.
    memory_type: str

    @property
    def type(self) -> str:
        return self.memory_type.strip().strip("[]").strip()


class Question(_Model):
    question: str
    answer: str
    evidence: list[Evidence] = Field(default_factory=list)
    difficulty: Difficulty
    question_type: QuestionType

    @property
    def unanswerable(self) -> bool:
        """Memory Boundary questions, or any whose gold answer says the fact is unknown."""
        return self.question_type == "Memory Boundary" or says_unknown(self.answer)


class HSession(_Model):
    start_time: str
    end_time: str
    memory_points: list[MemoryPoint] = Field(default_factory=list)
    memory_points_count: int = 0
    dialogue: list[Message]
    dialogue_turn_num: int = 0
    dialogue_token_length: int = 0
    questions: list[Question] = Field(default_factory=list)
    question_count: int = 0  # absent in the real data when a session has no questions
    title: str | None = None  # "Pure_QA_Session" in HaluMem-Long
    is_generated_qa_session: bool = False

    @property
    def is_distractor(self) -> bool:
        """Generated padding session (HaluMem-Long): ingest it, never score it."""
        return self.is_generated_qa_session

    @property
    def gold_points(self) -> list[MemoryPoint]:
        """The points a good system should store (interference excluded)."""
        return [p for p in self.memory_points if not p.is_interference]


class User(BaseModel):
    model_config = ConfigDict(extra="ignore")  # token_cost and other bookkeeping are dropped

    uuid: str
    persona_info: str
    sessions: list[HSession]
    total_dialogue_token_length: int = 0
    total_question_count: int = 0

    @property
    def name(self) -> str | None:
        """The persona's name, from "Name: ...;" in persona_info."""
        m = re.search(r"Name:\s*([^;]+)", self.persona_info)
        return m.group(1).strip() if m else None

    def stats(self) -> dict[str, int]:
        """Counts used by tests and data cards."""
        points = [p for s in self.sessions for p in s.memory_points]
        return {
            "sessions": len(self.sessions),
            "distractor_sessions": sum(s.is_distractor for s in self.sessions),
            "messages": sum(len(s.dialogue) for s in self.sessions),
            "memory_points": len(points),
            "interference": sum(p.is_interference for p in points),
            "updates": sum(p.updated for p in points),
            "questions": sum(len(s.questions) for s in self.sessions),
        }
