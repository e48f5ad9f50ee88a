"""What `memeval run --plan` asks of packs and systems: counts, never calls.

A pack's `plan(samples, ctx)` walks its own protocol over the samples without running it and
returns `PlanCounts`: how many system adds and searches it would make and the LLM calls per
caller ("answerer", "judge", "system"). It learns what one add costs from the system's
declaration through `ctx.system` (`SystemCosts`), so the engine never names either side.

A system declares its costs with class attributes or a classmethod (all optional):
- `llm_calls_per_add: float` and `llm_calls_per_search: float` (default 0: no LLM);
- `plan_add(session, options, stored) -> AddCost`: per session, for systems whose cost grows
  with it (one call per turn, two per note...); `stored` is how many memories the namespace
  is expected to hold before this add (0: a fresh namespace). It must not construct the
  system or call anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from memeval.contracts.systems import Capabilities
from memeval.records import Session

# ~4 characters per token for English on BPE tokenizers; `--plan` rescales it by the chosen
# endpoint's own count on its timed calls, so this is a starting point, not the figure.
CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 6  # chat-template tokens per message (role markers, separators)


def approx_tokens(messages: Sequence[Mapping[str, str]] | str) -> float:
    if isinstance(messages, str):
        return len(messages) / CHARS_PER_TOKEN
    return sum(len(m.get("content", "")) / CHARS_PER_TOKEN + MESSAGE_OVERHEAD
               for m in messages)


@dataclass(frozen=True)
class AddCost:
    """What one `add` of a session is expected to cost and return.

    memories: how many memories the add reports (ADD/UPDATE/DELETE); None = the system does not
      say (the pack then assumes what it must, and calibration from earlier runs corrects it)."""

    llm_calls: float = 0.0
    memories: float | None = None
    prompt_tokens: float = 0.0  # all calls of this add together
    completion_tokens: float = 0.0


@dataclass
class CallCount:
    """Expected LLM calls of one caller (judge retries included where the pack knows them)."""

    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    # prompt tokens that repeat the previous call's prefix (a pack's layout for prefix reuse):
    # a server that keeps the last prompt's KV state (llama.cpp, vLLM) does not recompute them
    shared_prefix_tokens: float = 0.0

    def add(self, calls: float, prompt_tokens: float = 0.0, completion_tokens: float = 0.0,
            shared_prefix_tokens: float = 0.0) -> None:
        self.calls += calls
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.shared_prefix_tokens += shared_prefix_tokens


@dataclass
class PlanCounts:
    """One job's plan. `calls` is keyed by ledger caller; "system" is renamed by the engine to
    the ledger's `system:<name>`."""

    samples: int = 0
    clusters: int = 0
    adds: int = 0
    searches: int = 0
    calls: dict[str, CallCount] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def caller(self, name: str) -> CallCount:
        return self.calls.setdefault(name, CallCount())


@runtime_checkable
class SystemCosts(Protocol):
    """The system's declared costs, as `ctx.system` hands them to a pack's `plan`."""

    name: str
    capabilities: Capabilities  # what the pack hands it (gold memories, per-speaker ingest)
    search_calls: float  # LLM calls per search

    def add_cost(self, session: Session, stored: float) -> AddCost: ...


@dataclass
class PlanContext:
    system: SystemCosts
    judge: str | None  # the run's judge kind ("llm", "exact") or None
    seed: int = 0
