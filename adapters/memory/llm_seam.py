"""The LLM seam of the real-library adapters (amem, mem0, langmem): each library's own LLM object
is replaced by one that calls memeval's client, so every call is attributed to `system:<name>`
in the ledger, cached, and its JSON schema translated for the server. Failures the libraries
would swallow are counted here, per kind, in the adapter's FailureCounter.
"""

from __future__ import annotations

import json
from typing import Any

from memeval.adapters.memory.base import FailureCounter
from memeval.contracts import SystemContext
from memeval.errors import EndpointDown, UserError
from memeval.llm import LLMResult


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


def llm_config(ctx: SystemContext) -> dict[str, Any]:
    """The endpoint as provenance: model and identity, never the key."""
    ep = ctx.llm.endpoint
    return {"model": ep.model, "identity": ep.identity, "backend": ep.backend,
            "caller": ctx.caller}
