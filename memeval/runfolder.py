"""The run folder: append-only predictions and verdicts, scores, typed results, manifest.
Nothing is ever lost: every line is flushed and fsync'ed when written; a torn last line (killed
process) is dropped."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from memeval.contracts.results import RESULTS_FORMAT, Results
from memeval.errors import UserError
from memeval.fileio import atomic_write_bytes, write_json_atomic
from memeval.records import Prediction, RunManifest, Score, Verdict

M = TypeVar("M", bound=BaseModel)
RUN_FORMAT = 2  # verdicts.jsonl, item-level scores.jsonl, typed metrics.json


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


def _lines(records: list[M]) -> bytes:
    return b"".join(r.model_dump_json().encode() + b"\n" for r in records)


class JsonlWriter:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._fh = path.open("ab")

    def write(self, record: BaseModel) -> None:
        self.write_many([record])

    def write_many(self, records: list[BaseModel]) -> None:
        """One write + fsync for a batch (a kill leaves at most a torn tail, never a gap)."""
        data = _lines(records)
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
    verdicts_path = property(lambda self: self.path / "verdicts.jsonl")
    scores_path = property(lambda self: self.path / "scores.jsonl")
    metrics_path = property(lambda self: self.path / "metrics.json")
    audit_path = property(lambda self: self.path / "audit.jsonl")

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def require(self) -> RunFolder:
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
        keep = {k: p for k, p in self.predictions(repair=True).items() if p.error is None}
        atomic_write_bytes(self.predictions_path, _lines(list(keep.values())))
        return keep

    def verdicts(self, repair: bool = False) -> list[Verdict]:
        return read_jsonl(self.verdicts_path, Verdict, repair)

    def write_verdicts(self, verdicts: list[Verdict]) -> None:
        atomic_write_bytes(self.verdicts_path, _lines(verdicts))

    def scores(self, repair: bool = False) -> list[Score]:
        return read_jsonl(self.scores_path, Score, repair)

    def write_scores(self, scores: list[Score]) -> None:
        atomic_write_bytes(self.scores_path, _lines(scores))

    def results(self) -> Results:
        """The typed metrics.json; a format-1 file (memeval 0.1) is refused with the way out."""
        if not self.metrics_path.exists():
            raise UserError(f"{self.path} has no metrics.json yet (run `memeval score {self.path}`)")
        try:
            raw = json.loads(self.metrics_path.read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{self.metrics_path}: unreadable ({e})") from e
        if not isinstance(raw, dict) or raw.get("format") != RESULTS_FORMAT:
            found = raw.get("format", 1) if isinstance(raw, dict) else "?"
            raise UserError(f"{self.metrics_path} is in results format {found}, this memeval "
                            f"reads format {RESULTS_FORMAT}: run `memeval score {self.path}` to "
                            "rewrite it from the stored predictions (no system calls)")
        try:
            return Results.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err.get("loc", ()))
            raise UserError(f"{self.metrics_path}: not valid results ({where}: {err['msg']})") from e

    def write_results(self, results: Results) -> None:
        atomic_write_bytes(self.metrics_path,
                           (results.model_dump_json(indent=2) + "\n").encode())
