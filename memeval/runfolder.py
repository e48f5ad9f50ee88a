"""The run folder: append-only predictions, scores, metrics, manifest. Nothing is ever lost:
every line is flushed and fsync'ed when written; a torn last line (killed process) is dropped."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from memeval.errors import UserError
from memeval.records import Prediction, RunManifest, Score

M = TypeVar("M", bound=BaseModel)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def read_jsonl(path: Path, model: type[M], repair: bool = False) -> list[M]:
    """Read records; a partial final line without newline is a torn write: dropped (and cut from
    the file when `repair`). Any other bad line is corruption: UserError with the line number."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    torn = lines[-1] != b""
    out: list[M] = []
    for i, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate_json(line))
        except ValidationError as e:
            raise UserError(f"{path} line {i}: not a valid {model.__name__} record "
                            f"({e.errors()[0]['msg']})") from e
    if torn and repair:
        with path.open("r+b") as fh:
            fh.truncate(len(raw) - len(lines[-1]))
    return out


class JsonlWriter:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._fh = path.open("ab")

    def write(self, record: BaseModel) -> None:
        data = record.model_dump_json().encode() + b"\n"
        with self._lock:
            self._fh.write(data)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def write_many(self, records: list[BaseModel]) -> None:
        """One write + fsync for a batch (a kill leaves at most a torn tail, never a gap)."""
        data = b"".join(r.model_dump_json().encode() + b"\n" for r in records)
        with self._lock:
            self._fh.write(data)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            self._fh.close()


class RunFolder:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    manifest_path = property(lambda self: self.path / "manifest.json")
    predictions_path = property(lambda self: self.path / "predictions.jsonl")
    scores_path = property(lambda self: self.path / "scores.jsonl")
    metrics_path = property(lambda self: self.path / "metrics.json")
    audit_path = property(lambda self: self.path / "audit.jsonl")

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def require(self) -> "RunFolder":
        if not self.exists():
            raise UserError(f"{self.path} is not a memeval run folder (no manifest.json)")
        return self

    def manifest(self) -> RunManifest:
        try:
            return RunManifest.model_validate_json(self.manifest_path.read_text())
        except (ValidationError, OSError) as e:
            raise UserError(f"{self.manifest_path}: unreadable manifest ({e})") from e

    def write_manifest(self, manifest: RunManifest) -> None:
        write_json_atomic(self.manifest_path, manifest.model_dump(mode="json"))

    def predictions(self, repair: bool = False) -> dict[str, Prediction]:
        """Latest record per sample_id (a retried failure supersedes the earlier error line)."""
        return {p.sample_id: p for p in read_jsonl(self.predictions_path, Prediction, repair)}

    def compact_predictions(self) -> dict[str, Prediction]:
        """Rewrite predictions.jsonl with one line per sample (errors being retried are dropped
        here; their history stays in audit.jsonl)."""
        preds = self.predictions(repair=True)
        keep = {k: p for k, p in preds.items() if p.error is None}
        tmp = self.predictions_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(p.model_dump_json() + "\n" for p in keep.values()))
        os.replace(tmp, self.predictions_path)
        return keep

    def scores(self, repair: bool = False) -> list[Score]:
        return read_jsonl(self.scores_path, Score, repair)

    def write_scores(self, scores: list[Score]) -> None:
        tmp = self.scores_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(s.model_dump_json() + "\n" for s in scores))
        os.replace(tmp, self.scores_path)

    def metrics(self) -> dict[str, Any]:
        if not self.metrics_path.exists():
            raise UserError(f"{self.path} has no metrics.json yet (run `memeval score {self.path}`)")
        return json.loads(self.metrics_path.read_text())
