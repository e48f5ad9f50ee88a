"""Hash-chained, append-only audit log (`runs/<id>/audit.jsonl`), its verifier, and the redactor.

Each line is one `AuditEvent`; `sha256` covers the canonical JSON of the event without `sha256`
and `prev_sha256` links to the previous line, so editing, deleting, inserting or reordering a line
breaks the chain at that line. A cut tail is caught by the run.end count/hash kept in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from memeval.errors import UserError
from memeval.records import AuditEvent

try:  # POSIX only; elsewhere a second writer process is not prevented
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RUN_START, RUN_END, RUN_RESUME = "run.start", "run.end", "run.resume"
MEMORY_WRITE, MEMORY_UPDATE, MEMORY_DELETE = "memory.write", "memory.update", "memory.delete"
JUDGE_VERDICT, SAMPLE_ERROR, GATE_DECISION = "judge.verdict", "sample.error", "gate.decision"
ROLLBACK, AUDIT_REPAIR = "rollback", "audit.repair"
GENESIS = "0" * 64  # prev_sha256 of seq 0

# --- redaction ------------------------------------------------------------------------------
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


# --- hashing and verification ---------------------------------------------------------------
def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event.model_dump(exclude={"sha256"}))).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    n_events: int  # valid events before the first problem
    first_bad_line: int | None  # 1-based
    reason: str
    last_sha256: str | None  # of the last valid event
    ended: bool = False  # the last valid event is run.end


@dataclass
class _Scan:
    n: int = 0
    last: AuditEvent | None = None
    bad_line: int | None = None
    reason: str = ""
    torn_bytes: int = 0  # >0: the only problem is an unterminated, unparseable final line
    good_size: int = 0  # byte offset just past the last valid line
    needs_newline: bool = False  # last valid line lacks "\n" (killed between the two)


def _parse(raw: bytes) -> AuditEvent | str:
    try:
        return AuditEvent.model_validate(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "not valid JSON"
    except ValidationError as e:
        return f"not an audit event ({e.error_count()} schema error(s))"


def read_events(path: str | os.PathLike[str]) -> list[AuditEvent]:
    """The events of a log, for readers that come after an AuditLog opened it (which checked the
    chain and repaired a torn tail): a line that does not parse is an error here, not skipped."""
    events = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            ev = _parse(raw)
            if isinstance(ev, str):
                raise UserError(f"{path}:{lineno}: {ev} (check it with `memeval audit verify`)")
            events.append(ev)
    return events


def _seq_of(raw: bytes) -> int | None:
    try:
        seq = json.loads(raw).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None


def _link_problem(ev: AuditEvent, lineno: int, expect: int, prev: str,
                  rest: Iterator[bytes]) -> str | None:
    """Why `ev` does not continue the chain (deleted, reordered, inserted line), or None."""
    if ev.seq == expect and ev.prev_sha256 == prev:
        return None
    if ev.seq > expect:  # the expected seq is either further down (reorder) or gone (deletion)
        found = next((i for i, r in enumerate(rest, lineno + 1) if _seq_of(r) == expect), None)
        why = (f"seq {ev.seq} where {expect} expected; seq {expect} is at line {found}: "
               "reordered lines" if found else
               f"seq jumps to {ev.seq} after {expect - 1}: {ev.seq - expect} event(s) deleted")
    elif ev.seq < expect:
        why = f"seq {ev.seq} repeats or goes back: inserted, duplicated or reordered line"
    else:
        why = "inserted or replaced line"
    if ev.prev_sha256 == prev:
        return f"seq {ev.seq} where {expect} expected ({why})"
    to = f"line {lineno - 1}" if lineno > 1 else "the genesis value"
    return f"link broken: prev_sha256 does not match {to} ({why})"


def _scan(path: Path) -> _Scan:
    """Walk the chain, streaming; stop at the first bad line and say what kind of damage."""
    st = _Scan()
    with path.open("rb") as fh:
        lines: Iterator[bytes] = iter(fh)
        for lineno, raw in enumerate(lines, 1):
            ev = _parse(raw) if raw.strip() else "blank line"
            problem: str | None
            if isinstance(ev, str):
                problem = ev
                if ev == "not valid JSON" and not raw.endswith(b"\n"):  # can only be the last
                    st.torn_bytes = len(raw)
                    problem = (f"torn last line ({len(raw)} bytes, no newline: partial write of "
                               "a killed process); AuditLog(path, repair_torn_tail=True) drops it")
            elif ev.sha256 != (own := event_hash(ev)):
                nxt = _parse(next(lines, b"") or b"{}")
                problem = ("sha256 field altered (the next line still links to the true hash)"
                           if isinstance(nxt, AuditEvent) and nxt.prev_sha256 == own
                           else "content altered (sha256 mismatch)")
            else:
                prev = st.last.sha256 or "" if st.last else GENESIS
                problem = _link_problem(ev, lineno, st.n, prev, lines)
                count = ev.payload.get("count") if ev.kind == RUN_END else None
                if problem is None and count is not None and count != ev.seq + 1:
                    problem = f"run.end says count {count} but is event {ev.seq + 1}"
            if problem is not None or isinstance(ev, str):
                st.bad_line, st.reason = lineno, f"line {lineno}: {problem}"
                return st
            st.n, st.last = st.n + 1, ev
            st.good_size += len(raw)
            st.needs_newline = not raw.endswith(b"\n")
    return st


def verify(path: str | os.PathLike[str], expected_tail: Mapping[str, Any] | None = None,
           finished: bool = False) -> VerifyResult:
    """Check the chain; `expected_tail` (the manifest's audit_tail) also catches a cut tail, and
    `finished` (the manifest says the run ended) demands a final run.end."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: audit log not found")
    st = _scan(path)
    last = st.last.sha256 if st.last else None
    ended = st.last is not None and st.last.kind == RUN_END

    def res(ok: bool, bad: int | None, reason: str) -> VerifyResult:
        return VerifyResult(ok, st.n, bad, reason, last, ended)

    if st.bad_line is not None:
        return res(False, st.bad_line, st.reason)
    if expected_tail is not None:
        try:
            want, want_h = int(expected_tail["count"]), expected_tail.get("last_sha256")
        except (KeyError, TypeError, ValueError):
            raise UserError(f"audit_tail {expected_tail!r} lacks an integer 'count'") from None
        if st.n < want:
            return res(False, st.n + 1, f"file ends after {st.n} events but manifest records "
                                        f"{want} (truncated tail)")
        if st.n > want:
            return res(False, want + 1, f"file has {st.n} events but manifest records {want} "
                                        "(events appended after run.end)")
        if want_h is not None and last != want_h:
            return res(False, st.n, f"line {st.n}: last sha256 differs from manifest "
                                    "(log rewritten)")
    elif finished and not ended:
        return res(False, st.n + 1, f"run finished but the log ends after {st.n} events "
                                    "without run.end (truncated tail)")
    note = "" if ended else "; no run.end yet (run unfinished, or tail cut: compare manifest)"
    return res(True, None, f"{st.n} events, chain intact{note}")


def verify_run(run_dir: str | os.PathLike[str]) -> VerifyResult:
    """verify() `run_dir/audit.jsonl` against `run_dir/manifest.json` (its `audit_tail`)."""
    run_dir = Path(run_dir)
    mpath = run_dir / "manifest.json"
    manifest: dict[str, Any] = {}
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise UserError(f"{mpath}: line {e.lineno}: not valid JSON ({e.msg})") from None
    finished = bool(manifest.get("finished")) or manifest.get("status") in (
        "finished", "done", "complete", "completed")
    return verify(run_dir / "audit.jsonl", manifest.get("audit_tail"), finished=finished)


# --- writer ---------------------------------------------------------------------------------
class AuditLog:
    """Thread-safe append-only writer; opening an existing log checks and resumes its chain."""

    def __init__(self, path: str | os.PathLike[str], secrets: Iterable[str] | None = None,
                 repair_torn_tail: bool = False) -> None:
        self.path = Path(path)
        # default: scrub credential-looking env values; pass [] to disable
        self.secrets = sorted(set(env_secrets() if secrets is None else secrets))
        self._lock = threading.Lock()
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if fcntl is not None:  # a second writer process would fork the chain
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise UserError(f"{self.path}: audit log is open in another writer") from None
            if created:  # make the new directory entry durable too
                _fsync_path(self.path.parent)
            st = _scan(self.path)
            if st.bad_line is not None and not (st.torn_bytes and repair_torn_tail):
                raise UserError(f"{self.path}: {st.reason}; refusing to extend a broken audit "
                                "chain (check it with `memeval audit verify`)")
            self._seq, self._prev = st.n, (st.last.sha256 or "" if st.last else GENESIS)
            self._size, self.resumed = st.good_size, st.n > 0
            if st.torn_bytes:
                os.ftruncate(self._fd, st.good_size)
                os.fsync(self._fd)
            elif st.needs_newline:
                self._write(b"\n")
        except BaseException:
            os.close(self._fd)
            raise
        if st.torn_bytes:
            self.emit(AUDIT_REPAIR, "memeval.audit",
                      {"dropped_bytes": st.torn_bytes, "line": st.bad_line,
                       "reason": "unterminated partial final line (killed writer)"})

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)  # every event is durable: a crash loses at most the line in flight
        except OSError:  # disk full etc.: drop our partial line so later appends stay valid
            os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    @property
    def tail(self) -> dict[str, Any]:
        """What the manifest stores as `audit_tail`."""
        with self._lock:
            return {"count": self._seq, "last_sha256": self._prev if self._seq else None}

    def emit(self, kind: str, actor: str, payload: Mapping[str, Any] | None = None) -> AuditEvent:
        return self._append(kind, actor, payload, with_count=False)

    def run_end(self, payload: Mapping[str, Any] | None = None,
                actor: str = "memeval.runner") -> dict[str, Any]:
        """Write run.end (payload gets `count`: events including this one); return the tail."""
        ev = self._append(RUN_END, actor, payload, with_count=True)
        return {"count": ev.seq + 1, "last_sha256": ev.sha256}

    def _append(self, kind: str, actor: str, payload: Mapping[str, Any] | None,
                with_count: bool) -> AuditEvent:
        # JSON round trip: the hashed event must equal what a reader parses back from the line
        clean = json.loads(json.dumps(_finite(redact(dict(payload or {}), self.secrets)),
                                      ensure_ascii=False, allow_nan=False, default=str))
        actor = redact(actor, self.secrets)
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: audit log is closed")
            if with_count:  # under the lock, so exact even with concurrent emitters
                clean["count"] = self._seq + 1
            ev = AuditEvent(seq=self._seq, kind=kind, actor=actor, payload=clean,
                            prev_sha256=self._prev)
            ev.sha256 = event_hash(ev)
            self._write(_canonical(ev.model_dump()) + b"\n")
            self._seq, self._prev = self._seq + 1, ev.sha256
            return ev

    def close(self, final_counts: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Close; with `final_counts`, first write run.end carrying them and return the tail."""
        tail = self.run_end(final_counts) if final_counts is not None else None
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)  # also releases the flock
                self._fd = None
        return tail

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # no run.end here: only the caller knows the run finished


def _finite(obj: Any) -> Any:
    """NaN/inf as strings: the log must stay strict JSON for other tools (jq, browsers)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return [_finite(v) for v in obj] if isinstance(obj, list) else obj


def _fsync_path(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - directories cannot be fsync'ed on some platforms
        pass
