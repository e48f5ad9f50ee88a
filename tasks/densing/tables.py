"""User tables for the densing pack: a reference family given as published numbers or local
checkpoints, and a (model, release date, N, score or density) table for the trend.

CSV with a header row. Every error names the file, the line and the column."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from memeval.errors import UserError


@dataclass(frozen=True)
class FamilyRow:
    config: str
    params: float
    tokens: float
    loss: float | None = None  # published numbers: loss and score, fixed in the bootstrap
    score: float | None = None
    path: str | None = None  # or a local checkpoint, scored on the items by lm-eval's HFLM


@dataclass(frozen=True)
class TrendRow:
    model: str
    date: dt.date
    params: float
    score: float | None = None
    density: float | None = None


def _rows(path: str | Path, need: set[str]) -> list[tuple[int, dict[str, str]]]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file")
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = need - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{p}: line 1 lacks column(s) {', '.join(sorted(missing))} "
                            f"(has: {', '.join(reader.fieldnames or ())})")
        return [(i + 2, {k: (v or "").strip() for k, v in r.items() if k}) for i, r in
                enumerate(reader)]


def _num(p: str | Path, line: int, row: dict[str, str], key: str,
         required: bool = True) -> float | None:
    raw = row.get(key, "")
    if not raw:
        if required:
            raise UserError(f"{p}: line {line}, column {key}: empty")
        return None
    try:
        return float(raw)
    except ValueError:
        raise UserError(f"{p}: line {line}, column {key}: {raw!r} is not a number") from None


def load_family(path: str | Path) -> list[FamilyRow]:
    out = []
    for line, r in _rows(path, {"config", "params", "tokens"}):
        loss, score = _num(path, line, r, "loss", False), _num(path, line, r, "score", False)
        ckpt = r.get("path") or None
        if ckpt is None and (loss is None or score is None):
            raise UserError(f"{path}: line {line}: give loss and score, or a checkpoint path")
        out.append(FamilyRow(r["config"], _num(path, line, r, "params"),  # type: ignore[arg-type]
                             _num(path, line, r, "tokens"), loss, score, ckpt))  # type: ignore[arg-type]
    return out


def load_trend(path: str | Path) -> list[TrendRow]:
    out = []
    for line, r in _rows(path, {"model", "date", "params"}):
        try:
            date = dt.date.fromisoformat(r["date"])
        except ValueError:
            raise UserError(f"{path}: line {line}, column date: {r['date']!r} is not "
                            "YYYY-MM-DD") from None
        score, dens = _num(path, line, r, "score", False), _num(path, line, r, "density", False)
        if (score is None) == (dens is None):
            raise UserError(f"{path}: line {line}: give a score or a density (one of them)")
        out.append(TrendRow(r["model"], date, _num(path, line, r, "params"),  # type: ignore[arg-type]
                            score, dens))
    if len(out) < 3:
        raise UserError(f"{path}: a trend needs at least 3 models")
    return out
