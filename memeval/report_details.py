"""A task's own plots and tables in the report: `Results.plots` (PNG files in the run folder)
embedded, and `Results.details` rendered generically (no pack knowledge): a list of flat
records becomes a table, a mapping of scalars a key/value list, nested mappings recurse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memeval.report_render import KV, Image, Section, Table

MAX_DEPTH = 5
MAX_ROWS = 200


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v) and len(v) <= 4:
        return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"
    return v


def _blocks(name: str, value: Any, depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        keys = list(dict.fromkeys(k for r in value for k, v in r.items()
                                  if _scalar(v) or _cell(v) is not v))
        rows = [[_cell(r.get(k)) for k in keys] for r in value[:MAX_ROWS]]
        return [f"{name}:", Table(keys, rows)] if keys else []
    if isinstance(value, dict):
        flat = [(k, _cell(v)) for k, v in value.items() if _scalar(v) or _cell(v) is not v]
        out: list[Any] = [f"{name}:", KV(flat)] if flat else []
        for k, v in value.items():
            if not (_scalar(v) or _cell(v) is not v):
                out += _blocks(f"{name}.{k}", v, depth + 1)
        return out
    return []


def task_sections(results: Any, run_dir: Path) -> list[Section]:
    secs = []
    images = [Image(Path(run_dir, p).read_bytes(), alt=str(p)) for p in results.plots
              if str(p).endswith(".png") and Path(run_dir, p).is_file()]
    if images:
        secs.append(Section("Plots from the task", [*images], id="task-plots"))
    blocks = [b for k, v in (results.details or {}).items() for b in _blocks(k, v, 1)]
    if blocks:
        secs.append(Section("Tables from the task", ["Also in metrics.json (details).", *blocks],
                            id="task-tables"))
    return secs
