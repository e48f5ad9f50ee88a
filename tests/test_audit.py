"""Audit log: hash chain, tamper detection with exact line numbers, resume, torn tail, redaction."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from memeval import audit
from memeval import redact as redaction
from memeval.audit import AuditLog, event_hash, verify, verify_run
from memeval.redact import redact
from memeval.errors import UserError
from memeval.records import AuditEvent

N = 20  # events per fixture log, run.end included


def build(tmp_path: Path, n: int = N) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secrets=[])
    log.emit(audit.RUN_START, "runner", {"run_id": "r1"})
    for i in range(n - 2):
        log.emit(audit.MEMORY_WRITE, "amem", {"memory_id": f"m{i}", "text": f"fact number {i}"})
    tail = log.close({"samples": n - 2})
    assert tail is not None and tail["count"] == n
    return path, tail


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write(path: Path, ls: list[bytes]) -> None:
    path.write_bytes(b"".join(ls))


def bad(path: Path, line: int, words: str, tail: dict[str, Any] | None = None) -> None:
    r = verify(path, tail)
    assert not r.ok, r
    assert r.first_bad_line == line, r.reason
    assert words in r.reason, r.reason
    assert r.reason.startswith(f"line {line}:") or "manifest" in r.reason


def test_chain_is_valid_and_tail_matches(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    r = verify(path, tail)
    assert r.ok and r.ended and r.n_events == N and r.first_bad_line is None
    evs = [json.loads(x) for x in lines(path)]
    assert [e["seq"] for e in evs] == list(range(N))
    assert evs[0]["prev_sha256"] == audit.GENESIS
    assert all(b["prev_sha256"] == a["sha256"] for a, b in zip(evs, evs[1:]))
    assert evs[-1]["kind"] == "run.end" and evs[-1]["payload"] == {"samples": N - 2, "count": N}
    assert tail["last_sha256"] == evs[-1]["sha256"] == r.last_sha256
    # sha256 = hash of the canonical JSON without sha256, recomputable from the line alone
    ev = AuditEvent.model_validate(evs[3])
    assert event_hash(ev) == ev.sha256 and len(ev.sha256) == 64
    assert evs[0]["ts"].endswith("+00:00")


def test_concurrent_writers_keep_seq_contiguous(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secrets=[])

    def work(t: int) -> None:
        for i in range(40):
            log.emit(audit.JUDGE_VERDICT, f"judge-{t}", {"thread": t, "i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tail = log.run_end({"ok": True})
    log.close()
    assert tail["count"] == 321
    r = verify(path, tail)
    assert r.ok and r.n_events == 321, r.reason
    evs = [json.loads(x) for x in lines(path)]
    assert [e["seq"] for e in evs] == list(range(321))
    assert sorted((e["payload"]["thread"], e["payload"]["i"]) for e in evs[:-1]) == [
        (t, i) for t in range(8) for i in range(40)]


def test_edit_payload_value(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    ls = lines(path)
    assert b"fact number 5" in ls[6]
    ls[6] = ls[6].replace(b"fact number 5", b"fact number 9")
    write(path, ls)
    bad(path, 7, "content altered (sha256 mismatch)", tail)
    bad(path, 7, "content altered")  # without the manifest too


def test_edit_sha256_field(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    ls = lines(path)
    ev = json.loads(ls[6])
    ls[6] = ls[6].replace(ev["sha256"].encode(), b"f" * 64)
    write(path, ls)
    bad(path, 7, "sha256 field altered", tail)


def test_edit_content_and_rehash_breaks_next_link(tmp_path: Path) -> None:
    path, _ = build(tmp_path)
    ls = lines(path)
    ev = AuditEvent.model_validate_json(ls[6])
    ev.payload["text"] = "forged"
    ev.sha256 = event_hash(ev)
    ls[6] = ev.model_dump_json().encode() + b"\n"
    write(path, ls)
    bad(path, 8, "link broken: prev_sha256 does not match line 7")


def test_delete_middle_line(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    ls = lines(path)
    del ls[4]
    write(path, ls)
    bad(path, 5, "link broken: prev_sha256 does not match line 4", tail)
    bad(path, 5, "1 event(s) deleted")


def test_delete_first_line(tmp_path: Path) -> None:
    path, _ = build(tmp_path)
    write(path, lines(path)[1:])
    bad(path, 1, "does not match the genesis value")


def test_swap_two_lines(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    ls = lines(path)
    ls[9], ls[10] = ls[10], ls[9]
    write(path, ls)
    bad(path, 10, "reordered", tail)
    bad(path, 10, "seq 9 is at line 11")


def test_swap_distant_lines(tmp_path: Path) -> None:
    path, _ = build(tmp_path)
    ls = lines(path)
    ls[3], ls[15] = ls[15], ls[3]
    write(path, ls)
    bad(path, 4, "seq 3 is at line 16: reordered")


def _forged(after: bytes, prev: str) -> bytes:
    ev = AuditEvent.model_validate_json(after)
    ev = AuditEvent(seq=ev.seq + 1, ts=ev.ts, kind="memory.delete", actor="amem",
                    payload={"memory_id": "m3"}, prev_sha256=prev)
    ev.sha256 = event_hash(ev)  # own hash is correct: only the chain can tell
    return json.dumps(ev.model_dump()).encode() + b"\n"


def test_insert_forged_line_wrong_link(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    ls = lines(path)
    ls.insert(5, _forged(ls[4], prev="a" * 64))
    write(path, ls)
    bad(path, 6, "link broken: prev_sha256 does not match line 5 (inserted or replaced line)",
        tail)


def test_insert_forged_line_correct_link(tmp_path: Path) -> None:
    # a forger who links the new line to its predecessor breaks the following line instead
    path, _ = build(tmp_path)
    ls = lines(path)
    ls.insert(5, _forged(ls[4], prev=json.loads(ls[4])["sha256"]))
    write(path, ls)
    bad(path, 7, "repeats or goes back")


@pytest.mark.parametrize("k", [1, 3])
def test_truncated_tail(tmp_path: Path, k: int) -> None:
    path, tail = build(tmp_path)
    write(path, lines(path)[:-k])
    r = verify(path, tail)
    assert not r.ok and r.first_bad_line == N - k + 1
    assert r.reason == f"file ends after {N - k} events but manifest records {N} (truncated tail)"
    # without the manifest the chain itself is intact; the missing run.end is reported
    r = verify(path)
    assert r.ok and not r.ended and r.n_events == N - k and "no run.end" in r.reason


def test_verify_run_uses_manifest(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"run_id": "r1", "status": "finished", "audit_tail": tail}))
    assert verify_run(tmp_path).ok
    write(path, lines(path)[:-2])
    r = verify_run(tmp_path)
    assert not r.ok and r.first_bad_line == N - 1 and "truncated tail" in r.reason
    # an older manifest without audit_tail: "finished" alone still demands a final run.end
    manifest.write_text(json.dumps({"run_id": "r1", "finished": "2025-01-01T00:00:00+00:00"}))
    r = verify_run(tmp_path)
    assert not r.ok and r.first_bad_line == N - 1 and "without run.end" in r.reason
    manifest.write_text(json.dumps({"run_id": "r1", "status": "running"}))
    assert verify_run(tmp_path).ok


def test_events_appended_after_end_and_rewritten_tail(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    bad(path, N, "last sha256 differs", {"count": N, "last_sha256": "0" * 64})
    with AuditLog(path, secrets=[]) as log:
        log.emit(audit.ROLLBACK, "someone", {})
    bad(path, N + 1, "events appended after run.end", tail)


def test_torn_last_line_detected_refused_and_repaired(tmp_path: Path) -> None:
    path, tail = build(tmp_path)
    torn = b'{"actor":"amem","kind":"memory.wri'
    with path.open("ab") as fh:
        fh.write(torn)
    bad(path, N + 1, f"torn last line ({len(torn)} bytes")
    with pytest.raises(UserError, match=rf"line {N + 1}: torn last line.*repair_torn_tail=True"):
        AuditLog(path, secrets=[])
    log = AuditLog(path, secrets=[], repair_torn_tail=True)
    assert log.resumed
    log.emit(audit.RUN_RESUME, "runner", {})
    new_tail = log.close({"samples": 0})
    evs = [json.loads(x) for x in lines(path)]
    assert evs[N]["kind"] == "audit.repair" and evs[N]["payload"]["dropped_bytes"] == len(torn)
    assert [e["seq"] for e in evs] == list(range(N + 3))
    assert verify(path, new_tail).ok


def test_repair_never_drops_a_terminated_bad_line(tmp_path: Path) -> None:
    path, _ = build(tmp_path)
    ls = lines(path)
    ls[-1] = b'{"garbage\n'  # terminated: corruption, not a torn write
    write(path, ls)
    bad(path, N, "not valid JSON")
    with pytest.raises(UserError, match=f"line {N}: not valid JSON"):
        AuditLog(path, repair_torn_tail=True, secrets=[])
    assert lines(path)[-1] == b'{"garbage\n'


def test_valid_last_line_without_newline_resumes(tmp_path: Path) -> None:
    path, _ = build(tmp_path)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert verify(path).ok
    with AuditLog(path, secrets=[]) as log:
        log.emit(audit.RUN_RESUME, "runner", {})
    assert verify(path).n_events == N + 1


def test_broken_existing_file_refused(tmp_path: Path) -> None:
    path, _ = build(tmp_path)
    ls = lines(path)
    ls[6] = ls[6].replace(b"fact number 5", b"fact number 6")
    write(path, ls)
    with pytest.raises(UserError, match=r"audit\.jsonl: line 7: content altered"):
        AuditLog(path, secrets=[])
    assert lines(path) == ls  # nothing appended to a broken chain


def test_resume_continues_chain(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r1" / "audit.jsonl"
    log = AuditLog(path, secrets=[])
    assert not log.resumed
    log.emit(audit.RUN_START, "runner", {})
    for i in range(4):
        log.emit(audit.MEMORY_WRITE, "mem0", {"i": i})
    log.close()  # killed/stopped run: no run.end
    log = AuditLog(path, secrets=[])
    assert log.resumed and log.tail["count"] == 5
    ev = log.emit(audit.RUN_RESUME, "runner", {"skipped": 4})
    assert ev.seq == 5 and ev.prev_sha256 == json.loads(lines(path)[4])["sha256"]
    log.emit(audit.MEMORY_UPDATE, "mem0", {"i": 0})
    tail = log.close({"n": 1})
    assert tail == {"count": 8, "last_sha256": json.loads(lines(path)[-1])["sha256"]}
    r = verify(path, tail)
    assert r.ok and r.n_events == 8 and r.ended


def test_second_writer_refused_and_closed_log_refuses_emit(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secrets=[])
    if getattr(audit, "fcntl", None) is not None:
        with pytest.raises(UserError, match="another writer"):
            AuditLog(path, secrets=[])
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.emit(audit.RUN_START, "x", {})


def test_failed_write_leaves_no_partial_line(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secrets=[])
    log.emit(audit.RUN_START, "runner", {})
    real_write = os.write

    def half_then_enospc(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_enospc)
    with pytest.raises(OSError):
        log.emit(audit.MEMORY_WRITE, "amem", {"text": "x" * 100})
    monkeypatch.undo()
    ev = log.emit(audit.MEMORY_WRITE, "amem", {"text": "retry"})
    assert ev.seq == 1
    tail = log.close({})
    assert verify(path, tail).ok


def test_non_json_payload_values_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, secrets=[]) as log:
        payload: dict[Any, Any] = {
            "when": datetime(2025, 1, 2, tzinfo=timezone.utc), "where": tmp_path,
            "pair": (1, 2.5), 3: "int key", "text": "naïve café 記憶", "nan": float("nan")}
        ev = log.emit(audit.GATE_DECISION, "gov", payload)
    assert ev.payload["pair"] == [1, 2.5] and ev.payload["3"] == "int key"
    assert ev.payload["nan"] == "nan" and b"NaN" not in path.read_bytes()  # strict JSON
    assert "記憶".encode() in path.read_bytes()  # UTF-8, not \u escapes
    assert verify(path).ok


def test_missing_file_is_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        verify(tmp_path / "nope.jsonl")


SECRETS = {
    "sk": "sk-proj-AbCdEfGhIjKlMnOpQrStUv_123",
    "userpass": "hunter2pass",
    "user": "alice",
    "query": "q1w2e3r4t5y6",
    "nested": "very-secret-value-42",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.payload.sig123",
    "explicit": "custom-literal-key-xyz",
    "env": "envtoken-123456789",
    "pw": "correct-horse-battery",
}


def test_secrets_never_reach_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = SECRETS
    monkeypatch.setenv("MY_SERVICE_TOKEN", s["env"])
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secrets=[s["explicit"], *redaction.env_secrets()])
    log.emit(audit.RUN_START, "runner", {
        "error": f"401 from server, key {s['sk']} rejected",
        "base_url": f"https://{s['user']}:{s['userpass']}@llm.example.com/v1",
        "url": f"https://api.example.com/v1/chat?model=x&api_key={s['query']}&n=2",
        "config": {"llm": {"options": {"API_KEY": s["nested"], "Authorization": f"Bearer {s['bearer']}"}},
                   "db": {"password": s["pw"]}, "prompt_tokens": 123, "max_tokens": 64},
        "headers": [f"Authorization: Bearer {s['bearer']}"],
        "note": f"uses {s['explicit']} and {s['env']}",
    })
    log.emit(audit.SAMPLE_ERROR, f"llm:https://{s['user']}:{s['userpass']}@h/v1", {})
    tail = log.close({})
    raw = path.read_bytes()
    for name, secret in s.items():
        if name != "user":
            assert secret.encode() not in raw, name
    assert b"https://***@llm.example.com/v1" in raw and b"api_key=***&n=2" in raw
    ev = json.loads(lines(path)[0])["payload"]
    assert ev["config"]["prompt_tokens"] == 123 and ev["config"]["max_tokens"] == 64
    assert ev["config"]["llm"]["options"] == {"API_KEY": "***", "Authorization": "***"}
    assert verify(path, tail).ok  # hashes are of the redacted content


def test_redact_unit() -> None:
    assert redact("Bearer abc123def456") == "Bearer ***"
    assert redact("the bearer of bad news") == "the bearer of bad news"  # prose survives
    assert redact("https://u:p@h.com/x?token=abc&password=pw1&apikey=k1") == \
        "https://***@h.com/x?token=***&password=***&apikey=***"
    assert redact("http://example.com/a@b") == "http://example.com/a@b"  # no userinfo
    assert redact({"access_token": "t0k3n", "token_count": 7, "tokens": ["a"]}) == \
        {"access_token": "***", "token_count": 7, "tokens": ["a"]}
    assert redact({"secrets": {"a": ["x", 1]}}) == {"secrets": {"a": ["***", 1]}}
    assert redact(("x", "secret-val"), secrets=["secret-val"]) == ["x", "***"]
    assert redact("max_token=5 sort key=value") == "max_token=5 sort key=value"


def test_env_secrets() -> None:
    env = {"OPENAI_API_KEY": "sk-aaaaaaaaaaaaaaaaaaaa", "HF_TOKEN": "hf_short",
           "DB_PASSWORD": "pw", "TOKENIZERS_PARALLELISM": "false", "HOME": "/home/someone",
           "SSH_KEY_PATH": "/home/someone/.ssh/id", "client_secret": "abcdefgh1"}
    assert redaction.env_secrets(env) == ["abcdefgh1", "hf_short", "sk-aaaaaaaaaaaaaaaaaaaa"]
