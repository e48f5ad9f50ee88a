"""JSON has no NaN or infinity: the one conversion every writer uses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite_or_none(x: Any) -> float | None:
    """float(x) when it is a finite number, else None (None, NaN, inf, non-numbers)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def json_safe(v: Any) -> Any:
    """numpy scalars to Python, NaN/inf to None, tuples to lists (recursively)."""
    if isinstance(v, (tuple, list)):
        return [json_safe(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return finite_or_none(v)
    return v
