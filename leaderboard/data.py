"""Run folders under RUNS_DIR as leaderboard data: discovery, a parse cache keyed by every file's
(size, mtime), and tidy tables. Pure functions (no Streamlit), so tests and the benchmark call
them directly. Nothing here writes anything, and nothing reads outside RUNS_DIR: folders and
files whose real path leaves the root (symlinks) are skipped with that reason."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from pydantic import ValidationError

from memeval.contracts import MetricEntry, Results
from memeval.errors import UserError
from memeval.leaderboard.safety import is_inside, relative_name
from memeval.numbers import finite_or_none
from memeval.records import RunManifest
from memeval.runfolder import RunFolder
from memeval.runs import LoadedRun, load_run, system_label

RUN_FILES = ("manifest.json", "metrics.json", "scores.jsonl", "predictions.jsonl", "audit.jsonl")
MAX_DEPTH = 6  # RUNS_DIR/suite/task/run is depth 3; deeper trees are not run collections
NO_SUITE = "(no suite)"
NONE = "(none)"
T = TypeVar("T")
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Skipped:
    name: str  # path below RUNS_DIR
    reason: str


@dataclass
class RunSummary:
    """What the leaderboard tables need from one run: manifest + metrics.json, parsed once."""

    name: str  # path below RUNS_DIR: the run's id in the UI and in query parameters
    path: Path
    fingerprint: Fingerprint
    manifest: RunManifest
    results: Results
    label: str = ""  # system label (system[:options]), made unique among the shown runs
    suite: str = NO_SUITE
    task: str = ""
    setting: str = ""
    judge: str = NONE
    answer_model: str = NONE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return system_label(self.manifest)


@dataclass
class Scan:
    root: Path
    runs: list[RunSummary]
    skipped: list[Skipped]

    def by_name(self) -> dict[str, RunSummary]:
        return {r.name: r for r in self.runs}


def fingerprint(path: Path) -> Fingerprint:
    """(file, size, mtime_ns) of every run file present: any rewrite changes it."""
    out = []
    for name in RUN_FILES:
        try:
            st = (path / name).stat()
        except OSError:
            continue
        out.append((name, st.st_size, st.st_mtime_ns))
    return tuple(out)


class RunCache:
    """Parsed runs, keyed by (real path, fingerprint), shared by every Streamlit session of the
    process; plus a small LRU memo for results derived from several runs (ranks, reports)."""

    def __init__(self, memo_size: int = 256) -> None:
        self._lock = threading.Lock()
        self._summaries: dict[Path, tuple[Fingerprint, RunSummary | Skipped]] = {}
        self._loaded: dict[Path, tuple[Fingerprint, LoadedRun]] = {}
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._memo_size = memo_size
        self.hits = 0
        self.misses = 0

    def _cached(self, store: dict[Path, Any], path: Path, make: Callable[[Any], Any]) -> Any:
        """store[path] while the files' fingerprint (sizes, mtimes) is unchanged, else make(fp)."""
        fp = fingerprint(path)
        with self._lock:
            got = store.get(path)
            if got is not None and got[0] == fp:
                self.hits += 1
                return got[1]
            self.misses += 1
        made = make(fp)
        with self._lock:
            store[path] = (fp, made)
        return made

    def summary(self, root: Path, path: Path) -> RunSummary | Skipped:
        return self._cached(self._summaries, path, lambda fp: parse_summary(root, path, fp))

    def loaded(self, path: Path) -> LoadedRun:
        """The run's item scores and results (memeval.runs.LoadedRun), cached."""
        return self._cached(self._loaded, path, lambda fp: load_run(path))

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """compute() once per key (keys include the fingerprints of the runs involved)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                self.hits += 1
                return self._memo[key]  # type: ignore[no-any-return]
            self.misses += 1
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._summaries.clear()
            self._loaded.clear()
            self._memo.clear()


CACHE = RunCache()  # one per server process; Streamlit reruns keep imported modules


def discover(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Run folders (a directory with manifest.json) below `root`, not descending into them.
    Symlinked directories are not followed: one pointing out of `root` is reported as skipped."""
    found: list[Path] = []
    skipped: list[Skipped] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        if "manifest.json" in filenames:  # a run folder (maybe RUNS_DIR itself): not entered
            found.append(here)
            dirnames[:] = []
            continue
        for d in list(dirnames):
            sub = here / d
            if sub.is_symlink():
                dirnames.remove(d)
                if (sub / "manifest.json").exists() or not is_inside(root, sub):
                    why = ("symlink to a folder outside the runs folder: refused"
                           if not is_inside(root, sub) else
                           "symlink: listed under its real folder name instead")
                    skipped.append(Skipped(sub.relative_to(root).as_posix(), why))
            elif d.startswith(".") or depth + 1 > MAX_DEPTH:
                dirnames.remove(d)
    return sorted(found), skipped


def _read_inside(root: Path, path: Path) -> str:
    if path.is_symlink() and not is_inside(root, path):
        raise UserError(f"{path.name} is a symlink outside the runs folder: refused")
    return path.read_text(encoding="utf-8")


def parse_summary(root: Path, path: Path, fp: Fingerprint) -> RunSummary | Skipped:
    name = relative_name(root, path)
    for fname in RUN_FILES:  # later pages read these: none may lead out of RUNS_DIR
        f = path / fname
        if f.is_symlink() and not is_inside(root, f):
            return Skipped(name, f"{fname} is a symlink outside the runs folder: refused")
    try:
        manifest = RunManifest.model_validate_json(_read_inside(root, path / "manifest.json"))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()))
        return Skipped(name, f"manifest.json is not a valid RunManifest ({where}: {err['msg']})")
    except (UserError, OSError, UnicodeDecodeError) as e:
        return Skipped(name, f"manifest.json unreadable: {e}")
    if not (path / "metrics.json").exists():
        return Skipped(name, f"no metrics.json (run status {manifest.status!r}; "
                             f"`memeval score {name}` writes it)")
    try:
        _read_inside(root, path / "metrics.json")  # refuses a symlink out of RUNS_DIR
        results = RunFolder(path).results()
    except (UserError, OSError, UnicodeDecodeError) as e:
        return Skipped(name, f"metrics.json: {e}")
    judge = ", ".join(results.judges) if results.judges else str(
        manifest.config.get("judge") or NONE)
    return RunSummary(name=name, path=path, fingerprint=fp, manifest=manifest, results=results,
                      suite=manifest.suite or NO_SUITE, task=results.task,
                      setting=manifest.setting, judge=judge,
                      answer_model=str(manifest.llm.get("model") or NONE))


def scan(root: Path, cache: RunCache = CACHE) -> Scan:
    """Every run under `root` (parsed or served from the cache) plus the skipped folders."""
    paths, skipped = discover(root)
    runs: list[RunSummary] = []
    for p in paths:
        if not is_inside(root, p / "manifest.json"):
            skipped.append(Skipped(relative_name(root, p),
                                   "manifest.json is a symlink outside the runs folder: refused"))
            continue
        got = cache.summary(root, p)
        (runs if isinstance(got, RunSummary) else skipped).append(got)  # type: ignore[arg-type]
    label_runs(runs)
    return Scan(root, runs, sorted(skipped, key=lambda s: s.name))


def label_runs(runs: list[RunSummary]) -> None:
    """System labels, unique per (suite, task): seeds and reruns get their folder name added."""
    groups: dict[tuple[str, str, str], list[RunSummary]] = {}
    for r in runs:
        groups.setdefault((r.suite, r.task, r.system), []).append(r)
    for (_, _, system), rs in groups.items():
        for r in rs:
            r.label = system if len(rs) == 1 else f"{system}@{r.name}"


# ---- filters ----------------------------------------------------------------------------------

FILTER_FIELDS = {"task": "task", "setting": "setting", "judge": "judge",
                 "answer model": "answer_model"}


def options(runs: list[RunSummary]) -> dict[str, list[str]]:
    out = {k: sorted({str(getattr(r, f)) for r in runs}) for k, f in FILTER_FIELDS.items()}
    out["metric family"] = sorted({e.spec.family for r in runs
                                   for e in r.results.metrics.values()})
    out["convention"] = list(dict.fromkeys(c for r in runs for c in r.results.conventions))
    return out


def apply_filters(runs: list[RunSummary], chosen: dict[str, list[str]]) -> list[RunSummary]:
    """Keep runs whose field is among the chosen values (an empty choice keeps everything)."""
    out = runs
    for key, attr in FILTER_FIELDS.items():
        want = chosen.get(key)
        if want:
            out = [r for r in out if str(getattr(r, attr)) in want]
    return out


# ---- tables -----------------------------------------------------------------------------------

def stratum_blocks(entry: MetricEntry, convention: str | None) -> list[tuple[str, str, Any]]:
    """(stratum key, label, block) for overall and each stratum, named in `convention`."""
    return [(key, "overall" if key == "overall" else block.label(value, convention), block)
            for key, value, block in entry.blocks()]


LONG_COLUMNS = ["suite", "task", "run", "system", "seed", "setting", "judge", "answer model",
                "metric", "unit", "family", "lower is better", "stratum key", "stratum", "mean",
                "ci low", "ci high", "ci method", "n", "clusters", "invalid"]


def long_table(runs: list[RunSummary], families: list[str] | None = None,
               convention: str | None = None, overall_only: bool = False) -> pd.DataFrame:
    """One row per (run, metric, stratum), on the "(all)" estimator, with the headline CI."""
    rows = []
    for r in runs:
        conv = convention if convention in r.results.conventions else \
            next(iter(r.results.conventions), None)
        for metric, entry in r.results.metrics.items():
            spec = entry.spec
            if families and spec.family not in families:
                continue
            for key, label, block in stratum_blocks(entry, conv):
                if overall_only and key != "overall":
                    continue
                e = block.all
                ci = e.ci
                rows.append([r.suite, r.task, r.name, r.label, r.manifest.seed, r.setting,
                             r.judge, r.answer_model, metric, spec.unit, spec.family,
                             not spec.higher_is_better, key, label, e.mean,
                             ci[0] if ci else None, ci[1] if ci else None, e.ci_kind, e.n,
                             e.n_clusters, block.n_invalid])
    return pd.DataFrame(rows, columns=LONG_COLUMNS)


def pct(x: Any, unit: str = "") -> str:
    """Fractions x100 with 2 decimals; a metric with a unit as it is (4 significant digits)."""
    v = _num(x)
    return "-" if v is None else f"{v:.4g}" if unit else f"{100 * v:.2f}"


def wide_table(long: pd.DataFrame, ranks: dict[tuple[str, str], str] | None = None
               ) -> pd.DataFrame:
    """Systems x metrics for one (suite, task): per metric the mean (fractions x100; metrics
    with a unit as they are, the unit in the column name), its 95% CI, n
    (clusters) and the rank ('=' marks a rank shared because corrected tests do not separate);
    then the run's seed, folder, setting, judge and answer model."""
    ranks = ranks or {}
    recs = [r for r in long.to_dict("records") if r["stratum key"] == "overall"]
    metrics = list(dict.fromkeys(r["metric"] for r in recs))
    units = {r["metric"]: r["unit"] for r in recs if r["unit"]}
    lower = {r["metric"]: bool(r["lower is better"]) for r in recs}
    by_run: dict[str, dict[str, dict[str, Any]]] = {}
    for r in recs:
        by_run.setdefault(r["run"], {}).setdefault(r["metric"], r)
    out: list[dict[str, Any]] = []
    for run, by in by_run.items():
        first = next(iter(by.values()))
        row: dict[str, Any] = {"system": first["system"]}
        for m in metrics:
            g = by.get(m)
            mean, lo = (_num(g["mean"]), _num(g["ci low"])) if g else (None, None)
            unit = units.get(m, "")
            arrow = " (lower better)" if lower.get(m) else ""
            row[f"{m}{f' ({unit})' if unit else ''}{arrow}"] = (
                None if mean is None else float(f"{mean:.4g}") if unit else round(100 * mean, 2))
            row[f"{m} 95% CI"] = ("-" if g is None or lo is None else
                                  f"[{pct(lo, unit)}, {pct(g['ci high'], unit)}]")
            row[f"{m} n (clusters)"] = "-" if g is None else f"{g['n']} ({g['clusters']})"
            row[f"{m} rank"] = ranks.get((str(run), m), "-")
        row.update({"seed": int(first["seed"]), "run": run, "setting": first["setting"],
                    "judge": first["judge"], "answer model": first["answer model"]})
        out.append(row)
    return pd.DataFrame(out)


def _num(x: Any) -> float | None:
    return finite_or_none(x)


def groups(runs: list[RunSummary]) -> dict[tuple[str, str], list[RunSummary]]:
    """The leaderboard's tables: one per (suite, task)."""
    out: dict[tuple[str, str], list[RunSummary]] = {}
    for r in sorted(runs, key=lambda r: (r.suite, r.task, r.label)):
        out.setdefault((r.suite, r.task), []).append(r)
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")
