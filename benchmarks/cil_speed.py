"""Wall time per learner per task on the digits stream at one budget point (default mlp32,
the full-size point: every learner at its aligned exemplar count), one class order, the
suite's default epochs. Prints seconds per task, the learner's start-up (the Avalanche
worker's environment loads once per system), and each learner's ratio to MEMO, all measured
in this run.

    python benchmarks/cil_speed.py [--point mlp32] [--orders 1] [--epochs 15]
"""

from __future__ import annotations

import argparse
import time

LEARNERS = ("memo", "der", "icarl", "replay", "gdumb", "naive", "lwf", "ewc")


def main() -> int:
    from memeval import registry
    from memeval.adapters.cil.avalanche import avalanche_python
    from memeval.records import Sample
    from memeval.tasks.cil.task import CILTask

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--point", default="mlp32")
    ap.add_argument("--orders", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()
    task = CILTask(ladder=args.point, orders=args.orders, epochs=args.epochs)
    rows = []
    for name in LEARNERS:
        cls, _ = registry.resolve_system(name, {})
        if cls.__module__.endswith("avalanche") and avalanche_python() is None:
            print(f"{name}: skipped (the Avalanche extra is not installed)")
            continue
        t0 = time.perf_counter()
        system = cls(None)
        start = time.perf_counter() - t0
        per_task = []
        for s in task.samples():
            meta, err = task.run_sample(system, Sample(**s.model_dump()))
            if err:
                raise SystemExit(f"{name}: {err}")
            per_task += meta.get("seconds", [])
        system.close()
        if per_task:
            rows.append((name, start, sum(per_task) / len(per_task), meta["stage_accuracy"][-1]))
        else:
            print(f"{name}: {meta.get('infeasible')}")
        print(f"{name}: done", flush=True)
    memo = next(r[2] for r in rows if r[0] == "memo")
    print(f"\n{'learner':<8} {'start s':>8} {'s/task':>8} {'vs memo':>8} {'last acc':>9}")
    for name, start, sec, acc in rows:
        print(f"{name:<8} {start:>8.2f} {sec:>8.3f} {sec / memo:>7.2f}x {acc:>9.3f}")
    print(f"\n(point {args.point}, {args.orders} order(s), {args.epochs} epochs, 5 tasks x 2 "
          "classes; learn() wall time per task, excluding evaluation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
