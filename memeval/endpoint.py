"""Which LLM endpoint a run talks to, parsed from `--llm`, with secrets kept out of identities."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from memeval.errors import UserError

OPENAI_URL = "https://api.openai.com/v1"


def strip_secrets(url: str) -> str:
    """Drop userinfo and secret-looking query parameters from a URL."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = "&".join(q for q in parts.query.split("&")
                     if q and not re.match(r"(?i)(api[-_]?key|key|token|secret|password|sig)=", q))
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), query, ""))


@dataclass
class Endpoint:
    base_url: str  # without secrets
    model: str
    backend: str = "generic"  # "llamacpp" | "openai" | a server's name | "generic" (JSON format)
    identity: str = ""  # what the cache key and manifest use; stable across ports for embedded
    api_key: str | None = field(default=None, repr=False)
    context_window: int | None = None

    def __post_init__(self) -> None:
        if not self.identity:
            self.identity = f"{self.base_url}::{self.model}"

    def public(self) -> dict[str, object]:
        """The manifest's view: no key, no userinfo."""
        return {"base_url": self.base_url, "model": self.model, "backend": self.backend,
                "identity": self.identity, "context_window": self.context_window,
                "api_key": "***" if self.api_key else None}


def parse_llm_spec(spec: str) -> Endpoint:
    """`http://host:port/v1::MODEL` or `openai:MODEL` (key from OPENAI_API_KEY). A server
    memeval starts itself (`NAME:MODEL_PATH`, registry.SERVERS) is opened by memeval.llm_open."""
    if spec.startswith("openai:"):
        model = spec.split(":", 1)[1]
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise UserError("--llm openai:MODEL needs OPENAI_API_KEY in the environment")
        base = os.environ.get("OPENAI_BASE_URL", OPENAI_URL)
        return Endpoint(strip_secrets(base), model, backend="openai", api_key=key)
    if "::" not in spec or not spec.startswith(("http://", "https://")):
        from memeval.registry import SERVERS

        starts = " or ".join(f"'{n}:MODEL_PATH'" for n in SERVERS)
        raise UserError(f"--llm {spec!r}: expected 'http://host:port/v1::MODEL', "
                        f"'openai:MODEL' or {starts}")
    url, model = spec.rsplit("::", 1)
    parts = urlsplit(url)
    # Never OPENAI_API_KEY here: it must not be sent to an arbitrary URL.
    key = parts.password or _query_key(parts.query) or os.environ.get("MEMEVAL_LLM_API_KEY")
    if not model:
        raise UserError(f"--llm {spec!r}: the model name after '::' is empty")
    return Endpoint(strip_secrets(url), model, api_key=key)


def _query_key(query: str) -> str | None:
    for q in query.split("&"):
        k, _, v = q.partition("=")
        if k.lower() in ("api_key", "apikey", "key", "token") and v:
            return v
    return None
