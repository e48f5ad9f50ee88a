"""The `memeval` entry point (pyproject `[project.scripts]`); the commands are memeval.commands."""

from __future__ import annotations

import sys

from memeval.commands import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
