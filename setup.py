"""Package discovery for setuptools (the metadata is in pyproject.toml).

The top-level folders map into the `memeval` namespace (ARCHITECTURE.md: `tasks/` is
`memeval.tasks`, ...). Every folder with an __init__.py below them is a package, found here,
so a new pack or adapter folder needs no edit to any list; non-Python files in a package
(suite YAML, bundled data, errata) are shipped with it."""

from pathlib import Path

from setuptools import setup

ROOTS = {"memeval": "memeval", "memeval.tasks": "tasks", "memeval.adapters": "adapters",
         "memeval.metrics": "metrics", "memeval.suites": "suites",
         "memeval.leaderboard": "leaderboard"}
DATA = ["*.yaml", "*.json", "*.md", "data/*"]


def packages() -> list[str]:
    found = []
    for name, root in ROOTS.items():
        for init in sorted(Path(root).rglob("__init__.py")):
            rel = init.parent.relative_to(root).parts
            if not any(p.startswith((".", "_")) for p in rel):
                found.append(".".join((name, *rel)))
    return found


PACKAGES = packages()
setup(packages=PACKAGES, package_dir=ROOTS, package_data={p: DATA for p in PACKAGES})
