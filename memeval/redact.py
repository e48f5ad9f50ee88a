"""Redaction of credentials from everything memeval writes (audit log, manifests, reports):
literal known secret values, credential-looking patterns in text, and every value under a
secret-named key."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_VAL = r"[^&\s#\"',;]+"
_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@"), rf"\1{MASK}@"),  # URL userinfo
    # length/digit guard so prose ("the bearer of bad news") in memory text survives
    (re.compile(r"(?i)\b(bearer)\s+(?:(?=[\w.~+/=-]*\d)[\w.~+/=-]{8,}|[\w.~+/=-]{20,})"),
     rf"\1 {MASK}"),
    (re.compile(r"(?i)\b(authorization:\s*)\S+(?:\s+\S+)?"), rf"\1{MASK}"),  # header as text
    (re.compile(r"sk-[A-Za-z0-9_-]{16,}"), f"sk-{MASK}"),  # OpenAI / Anthropic style keys
    (re.compile(r"\b(gh[pousr]_|hf_|xox[abp]-)[A-Za-z0-9_-]{16,}"), rf"\1{MASK}"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), MASK),  # AWS access key id
    # key=value in query strings and free text (error messages echo URLs); `\b` spares max_token=
    (re.compile(r"(?i)\b((?:api[_-]?key|(?:access|auth|refresh)[_-]?token|token|password|passwd"
                rf"|pwd|secret|client[_-]?secret)=){_VAL}"), rf"\1{MASK}"),
    (re.compile(rf"(?i)([?&](?:key|sig|signature)=){_VAL}"), rf"\1{MASK}"),
]
_SECRET_PARTS = {"token", "password", "passwd", "pwd", "secret", "secrets", "authorization",
                 "auth", "cookie", "credential", "credentials", "apikey"}
_SECRET_JOINED = ("apikey", "accesskey", "privatekey", "secretkey", "clientsecret")
_ENV_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def _is_secret_key(key: str) -> bool:
    """api_key, Authorization, access_token, x-api-key: yes; prompt_tokens, max_tokens: no."""
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", key)]
    joined = "".join(parts)
    return bool(_SECRET_PARTS.intersection(parts)) or any(j in joined for j in _SECRET_JOINED)


def _redact_text(text: str, secrets: list[str]) -> str:
    for s in secrets:  # literal known values first: they may match no pattern
        text = text.replace(s, MASK)
    for pattern, repl in _TEXT_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """Copy of `obj` with credentials masked: strings (patterns + the literal `secrets`), dict
    keys, and every string under a secret-named key. Numbers stay (token counts survive)."""
    return _redact(obj, sorted({s for s in secrets if s}, key=len, reverse=True), False)


def _redact(obj: Any, secrets: list[str], force: bool) -> Any:
    if isinstance(obj, str):
        return MASK if force else _redact_text(obj, secrets)
    if isinstance(obj, bytes):
        return _redact(obj.decode("utf-8", "replace"), secrets, force)
    if isinstance(obj, Mapping):
        return {(_redact_text(k, secrets) if isinstance(k, str) else k):
                _redact(v, secrets, force or (isinstance(k, str) and _is_secret_key(k)))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_redact(v, secrets, force) for v in obj]
    if hasattr(obj, "model_dump"):  # pydantic records
        return _redact(obj.model_dump(mode="json"), secrets, force)
    return obj


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of env vars named like *KEY*/*TOKEN*/*SECRET*/*PASSWORD* (>= 8 chars) to scrub."""
    env = os.environ if environ is None else environ
    # *_PATH/_FILE/_DIR hold locations, not credentials; scrubbing them would mangle every path
    return sorted({v for k, v in env.items() if len(v) >= 8 and not k.upper().endswith(
        ("_PATH", "_FILE", "_DIR")) and any(w in k.upper() for w in _ENV_WORDS)})
