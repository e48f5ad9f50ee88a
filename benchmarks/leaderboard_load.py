"""Leaderboard load time over a folder of many runs: cold (nothing parsed) vs cached (every file's
size and mtime unchanged), measured in one run.

Builds N synthetic-but-schema-valid run folders with memeval's own records and writers
(RunManifest, Prediction, Score -> memeval.runfolder.RunFolder / JsonlWriter; metrics.json from
memeval.aggregate, the engine's aggregation of declared metrics), then times what one leaderboard page view does:
discover + parse every run, build every (suite, task) table, and rank each table with the
corrected paired tests. The cached pass is what every later page view and interaction pays.

    python benchmarks/leaderboard_load.py [--runs 200] [--items 100] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from memeval.aggregate import summarize_metrics
from memeval.contracts import MetricSpec, Results
from memeval.leaderboard import data
from memeval.leaderboard.ranking import rank_runs
from memeval.leaderboard.safety import root_of
from memeval.records import Prediction, RunManifest, Score
from memeval.runfolder import JsonlWriter, RunFolder

SUITES = ("bench-a", "bench-b")
TASKS = ("synth-qa-1", "synth-qa-2", "synth-qa-3", "synth-qa-4", "synth-qa-5")
SEEDS = (0, 1)
CLUSTERS = 10
METRICS = [MetricSpec(name="exact_match", strata=("category",)),
           MetricSpec(name="token_f1", strata=("category",))]


def systems_for(n_runs: int) -> list[str]:
    per = len(SUITES) * len(TASKS) * len(SEEDS)
    return [f"sys-{k:02d}" for k in range(max(1, -(-n_runs // per)))]


def write_run(path: Path, suite: str, task: str, system: str, skill: float, seed: int,
              items: int) -> None:
    """One finished run: manifest, predictions, scores (exact_match binary, token_f1
    continuous, per category), metrics.json and an empty audit log."""
    path.mkdir(parents=True)
    folder = RunFolder(path)
    rng = np.random.default_rng(int(hashlib.sha256(f"{task}|{system}|{seed}".encode())
                                    .hexdigest()[:8], 16))
    data_sha = hashlib.sha256(task.encode()).hexdigest()
    folder.write_manifest(RunManifest(
        run_id=path.name, suite=suite, command=["memeval", "run", "--suite", suite],
        config={"task": task, "system": system, "seed": seed, "judge": None},
        config_sha256=hashlib.sha256(path.name.encode()).hexdigest(),
        task={"name": task, "version": "1.0", "options": {},
              "data": {"path": f"{task}.json", "sha256": data_sha, "license": "synthetic"}},
        system={"name": system, "version": "1", "options": {}},
        llm={"model": "bench-model", "backend": "generic", "identity": "bench::bench-model"},
        seed=seed, git={"commit": "0" * 40, "dirty": False}, packages={"memeval": "0.1.0"},
        machine={"python": "3.11"}, status="complete", finished="2026-01-01T00:00:00+00:00",
        format=2,
        counts={"samples": items, "predictions": items, "errors": 0}))
    preds, scores = [], []
    for i in range(items):
        sid, cluster = f"q{i:04d}", f"c{i % CLUSTERS}"
        cat = str(1 + i % 4)
        hit = bool(rng.random() < skill)
        preds.append(Prediction(sample_id=sid, cluster=cluster, task=task, system=system,
                                output="answer" if hit else "other",
                                reference={"question": f"question {i}", "answer": "answer"}))
        f1 = float(np.clip(skill + rng.normal(0, 0.2), 0, 1))
        scores += [Score(sample_id=sid, cluster=cluster, metric="exact_match",
                         value=float(hit), strata={"category": cat}),
                   Score(sample_id=sid, cluster=cluster, metric="token_f1", value=f1,
                         strata={"category": cat})]
    w = JsonlWriter(folder.predictions_path)
    w.write_many(preds)
    w.close()
    folder.write_scores(scores)
    folder.audit_path.write_text("")
    folder.write_results(Results(task=task, task_version="1.0", clusters="conversation",
                                 metrics=summarize_metrics(METRICS, scores)))


def build(root: Path, n_runs: int, items: int) -> int:
    systems = systems_for(n_runs)
    made = 0
    for k, system in enumerate(systems):
        for suite in SUITES:
            for task in TASKS:
                for seed in SEEDS:
                    if made == n_runs:
                        return made
                    skill = 0.3 + 0.5 * k / max(1, len(systems) - 1)
                    write_run(root / suite / task / f"{task}__{system}__s{seed}", suite, task,
                              system, skill, seed, items)
                    made += 1
    return made


def page_view(root: Path, cache: data.RunCache) -> tuple[float, float, float, int]:
    """Seconds to (discover + parse every run, build every table, rank every table) and the
    number of tables, for one leaderboard page view."""
    t0 = time.perf_counter()
    scan = data.scan(root, cache)
    t1 = time.perf_counter()
    tables = data.groups(scan.runs)
    longs = {k: data.long_table(v) for k, v in tables.items()}
    t2 = time.perf_counter()
    for key, members in tables.items():
        data.wide_table(longs[key], rank_runs(members, cache=cache).ranks)
    t3 = time.perf_counter()
    if scan.skipped:
        raise SystemExit(f"unexpected skipped runs: {scan.skipped[:3]}")
    return t1 - t0, t2 - t1, t3 - t2, len(tables)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--items", type=int, default=100, help="scored items per run")
    ap.add_argument("--out", type=Path, help="folder for the runs (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated runs")
    args = ap.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="memeval-lb-bench-"))
    try:
        t = time.perf_counter()
        made = build(root, args.runs, args.items)
        print(f"built {made} run folders ({args.items} items, {CLUSTERS} clusters each) in "
              f"{time.perf_counter() - t:.1f} s under {root}")
        root = root_of(root)
        cache = data.RunCache()
        cold = page_view(root, cache)
        warm = [page_view(root, cache) for _ in range(3)]  # best of 3 cached views
        best = [min(w[i] for w in warm) for i in range(3)]
        print(f"{cold[3]} tables (suite x task), {made} runs; cached = best of 3 later views")
        for i, what in enumerate(("load: discover + parse runs", "tables (long + wide)",
                                  "ranks (corrected paired tests)")):
            print(f"{what:32s} cold {cold[i]:8.3f} s  cached {best[i]:8.3f} s  "
                  f"ratio {cold[i] / best[i]:7.1f}x")
        total_cold, total_warm = sum(cold[:3]), sum(best)
        print(f"{'page view total':32s} cold {total_cold:8.3f} s  cached {total_warm:8.3f} s  "
              f"ratio {total_cold / total_warm:7.1f}x")
        print(f"parse cache: {cache.misses} misses, {cache.hits} hits")
    finally:
        if not args.keep and args.out is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
