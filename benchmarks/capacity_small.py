"""Knowledge capacity at CPU scale: a sweep of tiny rotary GPT-2s trained from scratch on bioD
(or bioS), printing bits stored, P, R and R_max per model (Allen-Zhu & Li 3.3 in miniature).

Runs the knowledge-capacity pack itself (same training, losses and formulas as
`memeval run --suite knowledge-capacity`), one config per worker process (one torch thread
each: tiny models are overhead-bound), then writes the figure (bits vs parameters with the
2 bits/param line) and a JSON of the results.

    python benchmarks/capacity_small.py [--sizes 2x16,2x24,2x32] [--exposures 100,300]
        [--n 500] [--jobs 2] [--out runs/capacity_small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

TASK_KEYS = ("dataset", "n", "sizes", "exposures", "k", "c", "d", "l", "t", "lr", "batch_size",
             "seed")


def make_task(opts: dict[str, Any], plots_dir: str | None = None) -> Any:
    from memeval.tasks.capacity.task import CapacityTask

    return CapacityTask(**{k: opts[k] for k in TASK_KEYS}, plots_dir=plots_dir)


def run_config(opts: dict[str, Any], cfg: str) -> tuple[list[Any], float]:
    """Train and measure one config in this (worker) process."""
    from memeval.adapters.lm.hf import TinyGPT2
    from memeval.run_context import RunContext

    task = make_task(opts)
    system = TinyGPT2(None, size="1x16", device="cpu", threads=1)  # configs train variants
    ctx = RunContext(llm=None, seed=opts["seed"], system_name="gpt2-tiny")
    group = [s for s in task.samples() if s.group == cfg]

    async def go() -> list[Any]:
        return [p async for p in task.run_group(system, cfg, group, ctx)]

    t0 = time.perf_counter()
    preds = asyncio.run(go())
    return preds, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="bioD", choices=["bioD", "bioS", "bioS-simple"])
    ap.add_argument("--n", type=int, default=500, help="people N")
    ap.add_argument("--sizes", default="2x16,2x24,2x32", help="<layers>x<width>, comma list")
    ap.add_argument("--exposures", default="100,300", help="comma list")
    for key, val in (("k", 8), ("c", 1), ("d", 64), ("l", 2), ("t", 16)):
        ap.add_argument(f"--{key}", type=int, default=val, help=f"bioD {key.upper()}")
    ap.add_argument("--lr", type=float, default=2e-2)
    ap.add_argument("--batch-size", type=int, default=4, help="512-token windows per step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="configs trained in parallel")
    ap.add_argument("--out", type=Path, default=Path("runs/capacity_small"))
    args = ap.parse_args()
    opts = {k: getattr(args, k) for k in TASK_KEYS}

    task = make_task(opts, plots_dir=str(args.out))
    print(f"{task.corpus.describe()}: max bits {task.corpus.max_bits(args.n):,.0f}; "
          f"lr {args.lr}, batch {args.batch_size} x 512 tokens", flush=True)
    preds: list[Any] = []
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {cfg: pool.submit(run_config, opts, cfg) for cfg in task.configs()}
        for cfg, fut in futures.items():
            got, seconds[cfg] = fut.result()
            preds.extend(got)
            tr = got[0].meta["training"]
            print(f"  {cfg}: {tr['steps']} steps, {tr['tokens']:,} tokens, final train loss "
                  f"{tr['final_train_loss']:.3f}, {seconds[cfg]:.0f} s", flush=True)
    result = task.aggregate([s for p in preds for s in task.score(p)], preds, None)
    table = result.details["capacity"]
    print(f"\n{'config':<12}{'P':>8}{'bits':>10}{'R':>8}{'95% CI':>18}{'R_max':>8}")
    for row in table:
        lo, hi = row["R_ci"] or (float("nan"), float("nan"))
        print(f"{row['config']:<12}{row['params']:>8,}{row['bits']:>10,.0f}{row['R']:>8.3f}"
              f"{f'[{lo:.3f}, {hi:.3f}]':>18}{row['R_max']:>8.3f}")
    best = max(table, key=lambda r: r["R"])
    print(f"best: {best['config']} R = {best['R']:.3f} bits/param; wall "
          f"{time.perf_counter() - t0:.0f} s; figure {[str(p) for p in result.plots]}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "dataset": task.corpus.describe(),
           "capacity": table, "seconds": seconds, "plots": [str(p) for p in result.plots],
           "training": {q.meta["config"]: q.meta["training"] for q in preds
                        if "training" in q.meta},
           "losses": {m: result.metrics[m].model_dump(mode="json")["strata"]["config"]
                      for m in ("p1", "p2", "p3") if m in result.metrics}}
    (args.out / "capacity_small.json").write_text(json.dumps(out, indent=1, default=str))
    run = write_run_folder(args.out / "run", opts, task, preds)
    print(f"results: {args.out / 'capacity_small.json'}; run folder: {run} "
          f"(memeval show / score / report work on it)")
    return 0


def write_run_folder(path: Path, opts: dict[str, Any], task: Any, preds: list[Any]) -> Path:
    """The same run folder `memeval run --task knowledge-capacity:... --system gpt2-tiny` writes
    (configs were trained in worker processes here, so the runner itself could not write it)."""
    import sys

    from memeval import __version__
    from memeval.audit import AuditLog
    from memeval.manifest import config_sha256, git_info, machine_info, package_versions
    from memeval.records import RunManifest, utcnow
    from memeval.runfolder import RUN_FORMAT, JsonlWriter, RunFolder
    from memeval.runner import JobSpec

    if path.exists():
        import shutil
        shutil.rmtree(path)  # the benchmark always retrains; a stale folder would mix runs
    folder = RunFolder(path)
    path.mkdir(parents=True)
    spec = JobSpec(task="knowledge-capacity", system="gpt2-tiny", seed=opts["seed"],
                   task_options={k: v for k, v in opts.items() if k != "seed"})
    config = spec.config(None)
    config["data_sha256"] = task.data_info().get("sha256")
    manifest = RunManifest(
        run_id=path.name, command=[sys.executable, *sys.argv], config=config,
        config_sha256=config_sha256(config), suite=None,
        task={"name": task.name, "version": task.version, "options": task.config(),
              "data": task.data_info()},
        system={"name": "gpt2-tiny", "version": "?", "options": {}}, llm={},
        seed=opts["seed"], git=git_info(), packages=package_versions(),
        machine=machine_info(), memeval_version=__version__, format=RUN_FORMAT)
    audit = AuditLog(folder.audit_path)
    audit.emit("run.start", "benchmarks/capacity_small", {"samples": len(preds)})
    writer = JsonlWriter(folder.predictions_path)
    writer.write_many(preds)
    writer.close()
    from memeval.run_context import RunContext
    from memeval.scoring import score_run
    folder.write_manifest(manifest)  # scoring reads it
    asyncio.run(score_run(folder, task, RunContext(llm=None, seed=opts["seed"],
                                                   system_name="gpt2-tiny"), judge=False))
    counts = {"samples": len(preds), "predictions": len(preds),
              "errors": sum(p.error is not None for p in preds)}
    manifest.status, manifest.finished, manifest.counts = "complete", utcnow(), counts
    manifest.audit_tail = audit.run_end({"status": "complete", **counts}) or {}
    audit.close()
    folder.write_manifest(manifest)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
