"""Knowledge capacity at CPU scale: a sweep of tiny rotary GPT-2s trained from scratch on bioD
(or bioS), printing bits stored, P, R and R_max per model (Allen-Zhu & Li 3.3 in miniature).

Runs the knowledge-capacity pack itself (same training, losses and formulas as
`memeval run --suite knowledge-capacity`), one config at a time, then writes the figure
(bits vs parameters with the 2 bits/param line) and a JSON of the results.

    python benchmarks/capacity_small.py [--dataset bioD] [--n 200] [--sizes 1x16,1x24,2x24]
        [--exposures 100] [--out runs/capacity_small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import torch

from memeval.adapters.lm.hf import TinyGPT2
from memeval.context import RunContext
from memeval.tasks.capacity.task import CapacityTask


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="bioD", choices=["bioD", "bioS", "bioS-simple"])
    ap.add_argument("--n", type=int, default=200, help="people N")
    ap.add_argument("--sizes", default="1x16,1x24,2x24", help="<layers>x<width>, comma list")
    ap.add_argument("--exposures", default="100", help="comma list, e.g. 100,300")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--c", type=int, default=1)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--l", type=int, default=2)
    ap.add_argument("--t", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch-size", type=int, default=1, help="512-token windows per step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--out", type=Path, default=Path("runs/capacity_small"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    task = CapacityTask(seed=args.seed, dataset=args.dataset, n=args.n, sizes=args.sizes,
                        exposures=args.exposures, k=args.k, c=args.c, d=args.d, l=args.l,
                        t=args.t, lr=args.lr, batch_size=args.batch_size, plots_dir=str(args.out))
    system = TinyGPT2(None, size="1x16", device="cpu")  # each config trains its own variant
    ctx = RunContext(llm=None, seed=args.seed, system_name="gpt2-tiny")
    samples = list(task.samples())
    print(f"{args.dataset} N={args.n} {task.corpus.describe()} max bits "
          f"{task.corpus.max_bits(args.n):,.0f}", flush=True)

    async def run_config(cfg: str) -> list:
        group = [s for s in samples if s.group == cfg]
        return [p async for p in task.run_group(system, cfg, group, ctx)]

    preds, seconds = [], {}
    for cfg in task.configs():
        t0 = time.perf_counter()
        got = asyncio.run(run_config(cfg))
        seconds[cfg] = time.perf_counter() - t0
        preds.extend(got)
        tr = got[0].meta["training"]
        print(f"  {cfg}: {tr['steps']} steps, {tr['tokens']:,} tokens, "
              f"final train loss {tr['final_train_loss']:.3f}, {seconds[cfg]:.0f} s", flush=True)
    result = task.aggregate([s for p in preds for s in task.score(p)])
    print(f"\n{'config':<14}{'P':>8}{'bits':>10}{'R':>8}{'95% CI':>18}{'R_max':>8}")
    for row in result["capacity"]:
        lo, hi = row["R_ci"] or (float("nan"), float("nan"))
        print(f"{row['config']:<14}{row['params']:>8,}{row['bits']:>10,.0f}{row['R']:>8.3f}"
              f"{f'[{lo:.3f}, {hi:.3f}]':>18}{row['R_max']:>8.3f}")
    best = max(result["capacity"], key=lambda r: r["R"])
    print(f"best: {best['config']} R = {best['R']:.3f} bits/param "
          f"({best['exposures']} exposures); figure {result.get('plots')}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "dataset": task.corpus.describe(),
           "capacity": result["capacity"], "seconds": seconds, "plots": result.get("plots"),
           "training": {q.meta["config"]: q.meta["training"] for q in preds
                        if "training" in q.meta},
           "losses": {m: result["metrics"][m]["by_config"] for m in ("p1", "p2", "p3")
                      if m in result["metrics"]}}
    (args.out / "capacity_small.json").write_text(json.dumps(out, indent=1, default=str))
    print(f"results: {args.out / 'capacity_small.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
