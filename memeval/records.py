"""Persisted record types. Every line memeval writes is one of these, dumped as JSON."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Record):
    speaker: str
    text: str
    turn_id: str | None = None
    role: str | None = None  # "user"/"assistant" when the pack assigns roles
    timestamp: str | None = None


class Session(_Record):
    session_id: str
    timestamp: str | None = None  # as the data gives it, e.g. "1:56 pm on 8 May, 2023"
    turns: list[Turn]
    meta: dict[str, Any] = Field(default_factory=dict)  # pack-specific (e.g. gold for `oracle`)


class Memory(_Record):
    """A memory as the system under test reports it (created, changed or retrieved)."""

    text: str
    memory_id: str | None = None
    event: str | None = None  # ADD / UPDATE / DELETE / NONE when the system says
    score: float | None = None
    timestamp: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Sample(_Record):
    """One scored unit. `group` is what a system ingests once (a conversation, a user)."""

    sample_id: str
    cluster: str
    group: str
    input: dict[str, Any]
    reference: dict[str, Any] = Field(default_factory=dict)


class Prediction(_Record):
    sample_id: str
    cluster: str
    task: str
    system: str
    output: str | None = None
    retrieved: list[Memory] = Field(default_factory=list)
    reference: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)  # latencies, prompt tokens, truncation...
    error: str | None = None
    ts: str = Field(default_factory=utcnow)


class Score(_Record):
    """One item's value of one declared metric. `weight` is the item's denominator for "ratio"
    metrics (sum(value * weight) / sum(weight)); `prediction_id` names the prediction an item
    belongs to when one prediction holds several items (a HaluMem session's memory points)."""

    sample_id: str
    cluster: str
    metric: str
    value: float | None  # None = invalid (failed sample, no valid verdict): counted, shown
    weight: float = 1.0
    strata: dict[str, str] = Field(default_factory=dict)  # e.g. {"category": "1"}
    prediction_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Verdict(_Record):
    """One judge decision on one item of a prediction (`verdicts.jsonl`). Verdicts are what
    judging costs; everything after them (item scores, metrics) is recomputed on re-score."""

    prediction_id: str
    item: str  # what in the prediction was judged: "answer", a memory point "p3"...
    kind: str  # the rubric: "llm_judge", "integrity", "qa"...
    repeat: int = 0  # repeated judge runs of the same item (agreement)
    judge: str  # identity: endpoint and model, or a rule ("exact-v1")
    valid: bool  # False: no usable verdict after retries (counted, never guessed)
    label: str | None = None
    score: float | None = None
    fields: dict[str, Any] = Field(default_factory=dict)  # other verdict fields; what was judged
    reason: str | None = None
    raw: str | None = None
    attempts: int = 1
    cached: bool = False
    batch: int | None = None  # verdicts written at once for a prediction; a torn batch is redone


class GoldMemory(_Record):
    """A memory a perfect system would store, handed only to systems whose capabilities say
    `accepts_gold` (ceilings), in `Session.meta["gold_memories"]`."""

    text: str
    memory_id: str | None = None
    kind: str | None = None  # e.g. "Persona Memory"
    distractor: bool = False  # asserted by someone else: a good system does NOT store it
    replaces: list[str] = Field(default_factory=list)  # texts this memory updates
    timestamp: str | None = None


class AuditEvent(_Record):
    seq: int
    ts: str = Field(default_factory=utcnow)
    kind: str
    actor: str
    payload: dict[str, Any] = Field(default_factory=dict)
    prev_sha256: str | None = None
    sha256: str | None = None


class RunManifest(_Record):
    run_id: str
    memeval_version: str = ""
    suite: str | None = None
    created: str = Field(default_factory=utcnow)
    command: list[str]
    config: dict[str, Any]
    config_sha256: str
    task: dict[str, Any]  # name, version, data path + sha256, license
    system: dict[str, Any]  # name, options, adapter and library versions
    llm: dict[str, Any]  # endpoint identity (secrets redacted), model, backend
    setting: str = "online-retrieval"  # governance three-setting protocol
    format: int = 1  # run-folder format: 1 = memeval 0.1 (untyped metrics.json); 2 = now
    seed: int
    git: dict[str, Any]
    packages: dict[str, str]
    machine: dict[str, Any]
    status: str = "running"
    finished: str | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    cost: dict[str, Any] = Field(default_factory=dict)
    audit_tail: dict[str, Any] = Field(default_factory=dict)
