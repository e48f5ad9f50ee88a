"""What the real-library adapters (amem, mem0, langmem) share: the LLM seam and small helpers.

Each library's own LLM object is replaced by one that calls memeval's client, so every call is
attributed to `system:<name>` in the ledger, cached, and its JSON schema translated for the server.
Failures the libraries would swallow are counted here, per kind, in the adapter's FailureCounter.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from datetime import datetime
from importlib import metadata
from typing import Any

from memeval.adapters.memory.base import FailureCounter, SystemContext
from memeval.errors import EndpointDown, UserError
from memeval.llm import LLMResult

# Before any library import: no telemetry, no hub look-ups, no remote price tables.
OFFLINE_ENV = {"ANONYMIZED_TELEMETRY": "False", "MEM0_TELEMETRY": "False",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LANGSMITH_TRACING": "false"}


def go_offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


class EndpointAbort(BaseException):
    """Raised through a library's `except Exception`: an outage stops the add before the library
    stores a degraded memory; the adapter turns it back into EndpointDown."""

    def __init__(self, err: EndpointDown):
        super().__init__(str(err))
        self.err = err


class LLMSeam:
    """memeval's client as a library's LLM: counts failures per `<step>.<kind>`."""

    def __init__(self, ctx: SystemContext, failures: FailureCounter, system: str, *,
                 check_json: bool = True, strict_parse: bool = True):
        if ctx.llm is None:
            raise UserError(f"{system} needs an LLM endpoint (it calls one for every add)")
        self.ctx = ctx
        self.failures = failures
        self.check_json = check_json  # off where the library's own parse errors are counted
        self.strict_parse = strict_parse  # as strict as the parser that reads the reply

    def chat(self, messages: list[dict[str, str]], *, step: str, schema: dict[str, Any] | None,
             temperature: float, max_tokens: int) -> LLMResult:
        try:
            res = self.ctx.llm.chat_sync(messages, caller=self.ctx.caller, schema=schema,
                                         temperature=temperature, max_tokens=max_tokens,
                                         cache_scope=f"seed={self.ctx.seed}")
        except EndpointDown as e:
            self.failures.add(f"{step}.endpoint_down")
            raise EndpointAbort(e) from e
        except Exception:
            self.failures.add(f"{step}.llm_error")  # refused (e.g. over the window): the
            raise  # library handles it its own way, which is what is being measured
        parsed = strict_json(res.text, self.strict_parse) if schema is not None else {}
        if self.check_json and parsed is None:
            why = "truncated" if res.finish_reason == "length" else "invalid_json"
            self.failures.add(f"{step}.{why}")
        return res


def strict_json(text: str, strict: bool = True) -> Any | None:
    """What `json.loads` (the libraries' own parser) makes of the text, or None. `strict=False`
    accepts control characters inside strings, as mem0's parser does."""
    try:
        return json.loads(text, strict=strict)
    except (json.JSONDecodeError, TypeError):
        return None


def require_all(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict mode requires every property; llama.cpp's grammar treats un-required
    properties as optional, and a 135M model then leaves them out. Applied recursively."""
    out = dict(schema)
    if out.get("type") == "object" and isinstance(out.get("properties"), dict):
        out["properties"] = {k: require_all(v) for k, v in out["properties"].items()}
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    if isinstance(out.get("items"), dict):
        out["items"] = require_all(out["items"])
    return out


_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def slug(ns: str) -> str:
    """A folder/label-safe namespace name; the hash keeps distinct names distinct."""
    return f"{_SLUG.sub('_', ns)[:48]}-{hashlib.sha256(ns.encode()).hexdigest()[:8]}"


def versions(*dists: str) -> dict[str, str]:
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = "not installed"
    return out


_TIME_FORMATS = ("%I:%M %p on %d %B, %Y",  # LoCoMo: "1:56 pm on 8 May, 2023"
                 "%b %d, %Y, %H:%M:%S")  # HaluMem: "Feb 13, 2029, 10:51:39"


def parse_when(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(stamp.strip(), fmt)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None


def llm_config(ctx: SystemContext) -> dict[str, Any]:
    """The endpoint as provenance: model and identity, never the key."""
    ep = ctx.llm.endpoint
    return {"model": ep.model, "identity": ep.identity, "backend": ep.backend,
            "caller": ctx.caller}


class LockedEncoder:
    """A SentenceTransformer proxy: fast tokenizers fail when two threads encode at once."""

    _lock = threading.Lock()

    def __init__(self, model: Any):
        self._model = model

    def encode(self, *args: Any, **kw: Any) -> Any:
        with self._lock:
            return self._model.encode(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def memory_diff(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
                fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """(event, id) for notes created (ADD), changed in any of `fields` (UPDATE), gone (DELETE)."""
    out = [("ADD", i) for i in after if i not in before]
    out += [("UPDATE", i) for i in after if i in before
            and any(after[i].get(f) != before[i].get(f) for f in fields)]
    out += [("DELETE", i) for i in before if i not in after]
    return out
