"""The system protocols: memory systems, language models (lm-eval's three `LM` methods) and
continual learners. Adapters subclass nothing; they match one of these and declare `kind`.

What a harness may do with a system is declared (`capabilities`), never probed by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from memeval.records import Memory, Session

SystemKind = Literal["memory", "trainable", "language-model", "continual-learner"]
# The governance spec's three-setting protocol: what a system answers from. parametric-only:
# its weights (closed book, e.g. no-memory, a trained LM); offline-retrieval: reading
# everything (full context); online-retrieval: what a memory or RAG system retrieves.
Setting = Literal["parametric-only", "offline-retrieval", "online-retrieval"]
SETTINGS: tuple[str, ...] = Setting.__args__  # type: ignore[attr-defined]
# A system of one kind can stand in for another: a trainable LM is also a language model
# (it implements lm-eval's three methods too). The pairing check reads this.
PROVIDES: dict[str, frozenset[str]] = {
    "trainable": frozenset({"trainable", "language-model"}),
}


def provides(kind: str | None, wanted: str) -> bool:
    return kind == wanted or wanted in PROVIDES.get(str(kind), frozenset())


@dataclass
class SystemContext:
    """Handed to a system's constructor by the runner."""

    storage_dir: Path  # private, per run and system: isolate stores here
    llm: Any = None  # memeval.llm.LLMClient; systems that call an LLM go through it
    seed: int = 0
    caller: str = "system"  # ledger name for the system's own LLM calls


@dataclass(frozen=True)
class Capabilities:
    """What a memory system offers the harness.

    ingest: how a two-speaker conversation goes in: "joint" (one namespace) or "per-speaker"
      (once per speaker's perspective, own turns as user; Mem0's and MemOS's harnesses).
    full_context: `search` returns the whole history in order, and the harness fits it to the
      answer model's window (newest kept) instead of taking top-k; `window_tokens` caps it.
    accepts_gold: the system reads gold memories from `Session.meta["gold_memories"]` (a
      ceiling such as `oracle`); only such systems are handed them.
    """

    ingest: Literal["joint", "per-speaker"] = "joint"
    full_context: bool = False
    window_tokens: int | None = None
    accepts_gold: bool = False


@runtime_checkable
class MemorySystem(Protocol):
    """An external/agent memory. The harness writes answers itself, so systems compare on memory.

    Methods are synchronous (most memory libraries are); the runner calls them in threads.
    `add` returns what this call created or changed, as the system itself reports it."""

    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[SystemKind]
    setting: ClassVar[Setting]
    capabilities: Capabilities

    def reset(self, ns: str) -> None: ...
    def add(self, ns: str, session: Session) -> list[Memory]: ...
    def search(self, ns: str, query: str, k: int) -> list[Memory]: ...
    def close(self) -> None: ...
    def info(self) -> dict[str, Any]: ...  # options, library versions, internal-failure counts


@runtime_checkable
class LanguageModel(Protocol):
    """lm-eval's `LM` interface, on plain tuples (an adapter unpacks lm-eval `Instance.args`).

    loglikelihood: (context, continuation) -> (log P(continuation | context), is_greedy);
    loglikelihood_rolling: (text,) -> log P(text), the whole text scored in windows;
    generate_until: (context, {"until": [...], "max_gen_toks": n, ...}) -> generated text."""

    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[SystemKind]
    setting: ClassVar[Setting]

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]: ...
    def loglikelihood_rolling(self, requests: Sequence[tuple[str]]) -> list[float]: ...
    def generate_until(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[str]: ...
    def info(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class TokenScores:
    """One text scored token by token: the raw sums, so any averaging rule can be re-derived.

    tokens: predicted tokens (the first token of the text has no context and is not
      predicted); text_bytes: UTF-8 bytes of those tokens decoded together; nll_bits: the sum
      of -log2 p(x_i | x_<i) over them, from a float32 log-softmax; input_tokens: the text's
      tokens before truncation."""

    tokens: int
    text_bytes: int
    nll_bits: float
    input_tokens: int


@runtime_checkable
class TokenScorer(Protocol):
    """A language model that scores each token of a text (information capacity needs the
    per-token sums and the text the tokens decode to, which `loglikelihood_rolling` hides)."""

    def score_tokens(self, texts: Sequence[str], max_tokens: int = 1024) -> list[TokenScores]: ...
    def hf_config(self) -> dict[str, Any]: ...  # config.json of the model, for FLOP counts


@runtime_checkable
class ContinualLearner(Protocol):
    """A class-incremental learner under a memory budget (cil_budget.md): `memory_bytes` counts
    every stored parameter (4 bytes each, saved and expanded blocks included) and exemplar.

    It declares how a budget sizes it (`architecture`: "single", "der" or "memo";
    `param_copies`: parameter-sized tensors kept per backbone parameter; `uses_exemplars`);
    `begin(plan)` starts a fresh learner with the backbone and exemplar count the task chose
    (memeval.tasks.cil.budget.LearnerPlan); `memory_parts` breaks `memory_bytes` down."""

    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[SystemKind]
    setting: ClassVar[Setting]
    architecture: ClassVar[str]
    param_copies: ClassVar[int]
    uses_exemplars: ClassVar[bool]

    def begin(self, plan: Any) -> None: ...
    def learn(self, experience: Any) -> None: ...
    def predict(self, x: Any) -> Any: ...
    def memory_bytes(self) -> int: ...
    def memory_parts(self) -> dict[str, int]: ...
    def info(self) -> dict[str, Any]: ...
    def close(self) -> None: ...
