"""Keeping the leaderboard inside RUNS_DIR: every path a user can give (a query parameter, a text
input) goes through `resolve_inside`, which refuses anything that is not a run folder under the
root after `..` and symlinks are resolved. Discovery uses `is_inside` for the same rule."""

from __future__ import annotations

import os
from pathlib import Path

from memeval.errors import UserError


class PathRefused(UserError):
    """A user-given path that is outside RUNS_DIR, or not a run folder there."""


def root_of(runs_dir: str | os.PathLike[str]) -> Path:
    """RUNS_DIR as an absolute, symlink-free directory path (UserError if it is not one)."""
    root = Path(runs_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"runs folder {runs_dir} does not exist or is not a directory")
    return root.resolve(strict=True)


def is_inside(root: Path, path: Path) -> bool:
    """True when `path`, with every symlink and `..` resolved, is `root` or lies below it."""
    try:
        real = path.resolve(strict=False)
    except (OSError, RuntimeError):  # symlink loop, unreadable component
        return False
    return real == root or root in real.parents


def resolve_inside(root: Path, given: str, *, must_be_run: bool = True) -> Path:
    """The run folder a user named: relative to `root` (or absolute, if it still lies below it).
    Refused: empty names, NUL bytes, anything whose real path leaves `root` (`..`, an absolute
    path elsewhere, a symlink pointing out), and, with `must_be_run`, folders without a
    manifest.json (or whose manifest.json is itself a link out of `root`)."""
    text = (given or "").strip()
    if not text:
        raise PathRefused("no run folder given")
    if "\x00" in text:
        raise PathRefused("refused: the path contains a NUL byte")
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = root / candidate
    if not is_inside(root, candidate):
        raise PathRefused(f"refused: {given!r} is outside the runs folder {root}")
    real = candidate.resolve(strict=False)
    if must_be_run:
        manifest = real / "manifest.json"
        if not real.is_dir() or not manifest.is_file():
            raise PathRefused(f"{given!r} is not a run folder under {root} (no manifest.json)")
        if not is_inside(root, manifest):
            raise PathRefused(f"refused: {given!r}/manifest.json links outside {root}")
    return real


def relative_name(root: Path, path: Path) -> str:
    """How a run folder is named in the UI and in query parameters: its path below `root`."""
    rel = path.resolve(strict=False).relative_to(root)
    return rel.as_posix() if rel.parts else "."
