"""SQLite response cache. A key covers everything that can change an answer."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


def default_cache_path() -> Path:
    root = os.environ.get("MEMEVAL_CACHE_DIR") or Path.home() / ".cache" / "memeval"
    return Path(root) / "responses.sqlite"


def cache_key(**parts: Any) -> str:
    """sha256 of the canonical JSON of endpoint identity, model, params, messages and scope."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Thread-safe; WAL mode so several memeval processes can share one cache file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit no longer fsyncs (4 ms -> us); the file stays consistent, and
        # what a power cut can take back is only recent responses, asked again on rerun
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL,"
            " caller TEXT, created REAL)"
        )
        self._db.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM responses WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, body: dict[str, Any], caller: str) -> None:
        with self._lock:
            # the time comes from Python: SQLite before 3.42 (Debian 12's) has no 'subsec'
            # and stored NULL through a column default
            self._db.execute("INSERT OR REPLACE INTO responses (key, body, caller, created)"
                             " VALUES (?,?,?,?)", (key, json.dumps(body), caller, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
