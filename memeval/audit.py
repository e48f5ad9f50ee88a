"""Hash-chained, append-only audit log (`runs/<id>/audit.jsonl`) and its verifier.

Each line is one `AuditEvent`; `sha256` covers the canonical JSON of the event without `sha256`
and `prev_sha256` links to the previous line, so editing, deleting, inserting or reordering a line
breaks the chain at that line. A cut tail is caught by the run.end count/hash kept in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from memeval.artifacts import check
from memeval.errors import UserError
from memeval.records import AuditEvent
from memeval.redact import env_secrets, redact

try:  # POSIX only; elsewhere a second writer process is not prevented
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RUN_START, RUN_END, RUN_RESUME, RUN_RESCORE = "run.start", "run.end", "run.resume", "run.rescore"
MEMORY_WRITE, MEMORY_UPDATE, MEMORY_DELETE = "memory.write", "memory.update", "memory.delete"
JUDGE_VERDICT, SAMPLE_ERROR, GATE_DECISION = "judge.verdict", "sample.error", "gate.decision"
ROLLBACK, AUDIT_REPAIR = "rollback", "audit.repair"
GENESIS = "0" * 64  # prev_sha256 of seq 0

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
    artifact: str | None = None  # the run-folder file found altered (not audit.jsonl itself)


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


def last_seal(path: Path) -> tuple[int, str] | None:
    """(audit line, checksums sha256) of the newest event that sealed the run's artifacts, or
    None: none did (memeval 0.1 runs, an unfinished first stretch), or a run resumed after it
    (the artifacts are legitimately being written again)."""
    seal = None
    for lineno, ev in enumerate(read_events(path), 1):
        if "checksums_sha256" in ev.payload:
            seal = (lineno, str(ev.payload["checksums_sha256"]))
        elif ev.kind in (RUN_START, RUN_RESUME):
            seal = None
    return seal


def verify_run(run_dir: str | os.PathLike[str]) -> VerifyResult:
    """verify() `run_dir/audit.jsonl` against `run_dir/manifest.json` (its `audit_tail`), then
    every artifact against the checksums the newest sealing event recorded."""
    run_dir = Path(run_dir)
    mpath = run_dir / "manifest.json"
    manifest: dict[str, Any] = {}
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            return VerifyResult(False, 0, None, f"manifest.json line {e.lineno}: not valid JSON "
                                f"({e.msg})", None, artifact="manifest.json")
    finished = bool(manifest.get("finished")) or manifest.get("status") in (
        "finished", "done", "complete", "completed")
    res = verify(run_dir / "audit.jsonl", manifest.get("audit_tail"), finished=finished)
    if not res.ok:
        return res
    seal = last_seal(run_dir / "audit.jsonl")
    if seal is None:
        return replace(res, reason=res.reason + "; no artifact checksums sealed (a run in "
                                                "progress, or written by memeval 0.1)")
    problem = check(run_dir, seal[1])
    if problem:
        return replace(res, ok=False, first_bad_line=None, artifact=problem.split()[0],
                       reason=f"{problem}, since the seal at audit line {seal[0]}")
    return replace(res, reason=res.reason + f"; every artifact matches the seal at audit line "
                                            f"{seal[0]}")


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
