"""Class-incremental metrics (cil_budget.md), on accuracies as fractions.

- average incremental accuracy: the mean over stages of top-1 on all classes seen so far;
- last accuracy: the final stage's value;
- forgetting: the mean over every task but the last of (its best accuracy at any stage
  before the last - its accuracy at the last stage); the last task cannot be forgotten yet;
- AUC: the area under a curve of accuracy (fraction) vs memory (MiB) over budget points, by
  the trapezoid rule on the points sorted by memory (the paper's AUC-A / AUC-L).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def average_incremental(stage_acc: Sequence[float]) -> float:
    if not stage_acc:
        raise ValueError("no stages")
    return float(np.mean(stage_acc))


def last(stage_acc: Sequence[float]) -> float:
    if not stage_acc:
        raise ValueError("no stages")
    return float(stage_acc[-1])


def forgetting(task_acc: Sequence[Sequence[float]]) -> float | None:
    """task_acc[t][j]: accuracy on task j's classes after stage t (j <= t). None for T = 1."""
    final = len(task_acc) - 1
    if final < 1:
        return None
    drops = [max(task_acc[t][j] for t in range(j, final)) - task_acc[final][j]
             for j in range(final)]
    return float(np.mean(drops))


def auc(memory_mib: Sequence[float], values: Sequence[float]) -> float:
    if len(memory_mib) != len(values) or len(values) < 2:
        raise ValueError("an AUC needs at least two budget points, one value each")
    order = np.argsort(memory_mib)
    x = np.asarray(memory_mib, dtype=float)[order]
    y = np.asarray(values, dtype=float)[order]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
