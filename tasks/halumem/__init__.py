"""HaluMem task pack: schema, loader, offline generator, judges, metrics.

Kept light: submodules are imported on first attribute access.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_users", "iter_hub", "User"]


def __getattr__(name: str) -> Any:
    if name in ("load_users", "iter_hub"):
        from memeval.tasks.halumem import loader

        return getattr(loader, name)
    if name == "User":
        from memeval.tasks.halumem.schema import User

        return User
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
