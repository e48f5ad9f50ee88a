"""Progress display: rich bars on a terminal, timestamped lines in logs (nohup, CI, batch jobs),
where a live bar renders nothing until the end and an hours-long ingest would look hung."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

LINE_EVERY_S = 30.0  # at most one line per task per interval, plus its first and last
PACE_STEPS = 3  # the ETA follows the last few steps: a resumed run replays its head from the cache


def progress(console: Console) -> Any:
    """A context manager with rich's add_task/advance/remove_task subset memeval uses."""
    if console.is_terminal:
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False)
    return LineProgress(console)


@dataclass
class _Task:
    label: str
    total: int
    done: int = 0
    start: float = field(default_factory=lambda: time.monotonic())  # looked up per call: testable
    last_line: float = 0.0
    recent: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=PACE_STEPS + 1))

    def __post_init__(self) -> None:
        self.recent.append((self.start, 0))


class LineProgress:
    def __init__(self, console: Console, every_s: float = LINE_EVERY_S):
        self.console, self.every_s = console, every_s
        self._tasks: dict[int, _Task] = {}
        self._next_id = 0

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self._tasks.clear()

    def add_task(self, label: str, total: int) -> int:
        tid = self._next_id
        self._next_id += 1
        self._tasks[tid] = _Task(label, total)
        self._line(self._tasks[tid])
        return tid

    def advance(self, tid: int, n: int = 1) -> None:
        t = self._tasks.get(tid)
        if t is None:
            return
        t.done += n
        t.recent.append((time.monotonic(), t.done))
        if t.done >= t.total or time.monotonic() - t.last_line >= self.every_s:
            self._line(t)

    def remove_task(self, tid: int) -> None:
        self._tasks.pop(tid, None)

    def _line(self, t: _Task) -> None:
        now = time.monotonic()
        t.last_line = now
        elapsed = now - t.start
        eta = ""
        (t0, d0), (t1, d1) = t.recent[0], t.recent[-1]
        if 0 < t.done < t.total and d1 > d0:
            eta = f", ~{_hms((t1 - t0) / (d1 - d0) * (t.total - t.done))} left"
        self.console.print(f"{time.strftime('%H:%M:%S')} {t.label}: {t.done}/{t.total} "
                           f"({_hms(elapsed)}{eta})", highlight=False, soft_wrap=True)


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
