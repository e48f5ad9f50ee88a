"""Finished runs as compare, gov, report and the leaderboard read them: manifest, typed results
and item-level scores, labelled; whether runs are comparable; their paired item values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memeval.contracts import MetricSpec, Results
from memeval.errors import UserError
from memeval.records import RunManifest, Score
from memeval.runfolder import RunFolder


@dataclass
class LoadedRun:
    label: str
    folder: RunFolder
    manifest: RunManifest
    results: Results
    scores: dict[str, dict[str, Score]]  # metric -> sample_id -> item-level score

    @property
    def judges(self) -> list[str]:
        """Judge identities as recorded on the verdicts (a re-score may change them)."""
        return list(self.results.judges)

    def spec(self, metric: str) -> MetricSpec:
        spec = self.results.spec(metric)
        if spec is None:
            raise UserError(f"{self.folder.path}: no metric {metric!r} in its results")
        return spec

    def pairable(self) -> set[str]:
        """Metrics whose items mean the same thing in every run (declared by the task)."""
        return {m for m in self.scores if (s := self.results.spec(m)) is not None and s.pairable}


def system_label(m: RunManifest) -> str:
    opts = ",".join(f"{k}={v}" for k, v in sorted((m.system.get("options") or {}).items()))
    return f"{m.system.get('name', '?')}{':' + opts if opts else ''}"


def load_run(path: Path | str) -> LoadedRun:
    folder = RunFolder(path).require()
    m = folder.manifest()
    results = folder.results()
    by: dict[str, dict[str, Score]] = {}
    for s in folder.scores():
        by.setdefault(s.metric, {})[s.sample_id] = s
    if not by:
        raise UserError(f"{folder.path} has no scores (run `memeval score {folder.path}`)")
    return LoadedRun(system_label(m), folder, m, results, by)


def load_runs(paths: list[Path]) -> list[LoadedRun]:
    runs = [load_run(p) for p in paths]
    labels = [r.label for r in runs]
    for r in runs:  # same system twice (seeds, reruns): tell them apart by folder name
        if labels.count(r.label) > 1:
            r.label = f"{r.label}@{r.folder.path.name}"
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
        if seen[r.label] > 1:
            r.label = f"{r.label}#{seen[r.label]}"
    return runs


def identity(r: LoadedRun) -> dict[str, Any]:
    """What must be equal for two runs' items to be paired (not the setting: see below)."""
    t = r.manifest.task
    return {"task": t.get("name"), "task version": t.get("version"),
            "data sha256": (t.get("data") or {}).get("sha256"),
            "judge": (r.manifest.config.get("judge"), tuple(r.judges))}


def cross_setting(runs: list[LoadedRun]) -> bool:
    return len({r.manifest.setting for r in runs}) > 1


def check_comparable(runs: list[LoadedRun]) -> None:
    """Paired tests need the same items scored the same way: refuse otherwise, saying why.
    Runs of different settings (parametric-only, offline, online retrieval) answer the same
    items, so they pair (the three-setting view), labelled as such by their callers."""
    ref = identity(runs[0])
    problems = []
    for r in runs[1:]:
        ident = identity(r)
        for key, want in ref.items():
            if ident[key] != want:
                problems.append(f"{key} differs: {runs[0].label} ({runs[0].folder.path}) has "
                                f"{want!r}, {r.label} ({r.folder.path}) has {ident[key]!r}")
    if problems:
        raise UserError("cannot compare these runs: " + "; ".join(problems) +
                        " (paired tests need the same task, data and judge)")


@dataclass
class Pairs:
    """Both runs' values on their common items ("(all)": invalid -> 0), with clusters."""

    ids: list[str]
    a: np.ndarray
    b: np.ndarray
    clusters: np.ndarray
    n_only_a: int
    n_only_b: int
    n_invalid_a: int
    n_invalid_b: int


def _in(s: Score, stratum: dict[str, str] | None) -> bool:
    return not stratum or all(s.strata.get(k) == v for k, v in stratum.items())


def paired(a: LoadedRun, b: LoadedRun, metric: str, stratum: dict[str, str] | None = None
           ) -> Pairs:
    sa = {k: s for k, s in a.scores.get(metric, {}).items() if _in(s, stratum)}
    sb = {k: s for k, s in b.scores.get(metric, {}).items() if _in(s, stratum)}
    ids = sorted(set(sa) & set(sb))
    value = (lambda s: 0.0 if s.value is None else s.value)
    return Pairs(ids=ids, a=np.array([value(sa[i]) for i in ids]),
                 b=np.array([value(sb[i]) for i in ids]),
                 clusters=np.array([sa[i].cluster for i in ids], dtype=object).astype(str),
                 n_only_a=len(set(sa) - set(sb)), n_only_b=len(set(sb) - set(sa)),
                 n_invalid_a=sum(sa[i].value is None for i in ids),
                 n_invalid_b=sum(sb[i].value is None for i in ids))


def restrict(runs: list[LoadedRun], stratum: dict[str, str]) -> None:
    """Keep only the scores of one stratum (e.g. LoCoMo category 5: adversarial questions)."""
    for r in runs:
        kept = {m: {k: s for k, s in by.items() if _in(s, stratum)} for m, by in r.scores.items()}
        r.scores = {m: by for m, by in kept.items() if by}


def parse_stratum(specs: list[str] | None) -> dict[str, str]:
    out = {}
    for spec in specs or []:
        key, eq, val = spec.partition("=")
        if not eq or not key or not val:
            raise UserError(f"--stratum {spec!r}: expected KEY=VALUE, e.g. category=5")
        out[key.strip()] = val.strip()
    return out
