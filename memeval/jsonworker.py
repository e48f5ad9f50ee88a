"""A child process in another Python environment, spoken to in JSON lines.

Libraries whose pins clash with memeval's (vLLM, Avalanche) run in their own venv behind this
boundary; it also isolates the system under test: a crash there is an error reply or an exit
code here, never a corrupted harness. The child reads one JSON request per stdin line and
writes one reply per stdout line ({"ok": true, ...} or {"ok": false, "error": ...}); EOF on
stdin ends it, and it dies with memeval (PDEATHSIG), so no worker outlives a killed run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from memeval.server import die_with_parent


class WorkerError(RuntimeError):
    """The worker replied with an error, or exited."""


class JsonWorker:
    def __init__(self, python: Path, script: Path, args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, label: str = "worker",
                 stderr_path: Path | None = None) -> None:
        self.label = label
        self._lock = threading.Lock()
        # The worker's log: to memeval's stderr, or to a file whose tail an error quotes
        self.stderr_path = stderr_path
        err = stderr_path.open("a", encoding="utf-8") if stderr_path else sys.stderr
        # -P: the script's folder is not put on sys.path (a sibling module could shadow a
        # package of the other environment, as tokenizers.py shadows `tokenizers`)
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [str(python), "-P", str(script), *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, **(env or {})}, preexec_fn=die_with_parent)
        if stderr_path:
            err.close()  # the child holds its own descriptor
        self.hello = self.reply()  # the worker's first line: ready, with its versions

    def tail(self, lines: int = 8) -> str:
        if self.stderr_path is None or not self.stderr_path.is_file():
            return "its log is above"
        got = self.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return f"its log's last lines ({self.stderr_path}): " + " | ".join(got[-lines:])

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def reply(self) -> dict[str, Any]:
        proc = self._proc
        if proc is None:
            raise WorkerError(f"{self.label} is closed")
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # stdout closed but alive: not a worker any more
                proc.kill()
                proc.wait()
            raise WorkerError(f"{self.label} exited (code {proc.returncode}); {self.tail()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise WorkerError(f"{self.label}: {reply.get('error')}")
        return reply

    def ask(self, req: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None:
                raise WorkerError(f"{self.label} is closed")
            try:
                proc.stdin.write(json.dumps(req) + "\n")
                proc.stdin.flush()
            except BrokenPipeError:
                raise WorkerError(f"{self.label} exited (code {proc.poll()})") from None
            return self.reply()

    def close(self, timeout_s: float = 60) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if proc.stdin:
            proc.stdin.close()  # EOF: the worker's loop ends and it cleans up
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

