"""Suite files (YAML in suites/): which tasks, default systems, seeds, limits, judge."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from memeval.errors import UserError, unknown_name


@dataclass
class SuiteTask:
    task: str
    options: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    systems: list[str] = field(default_factory=list)  # this entry's systems (else the suite's)


@dataclass
class Suite:
    name: str
    description: str
    tasks: list[SuiteTask]
    systems: list[str]
    seeds: list[int]
    judge: str | None = None
    compare: bool = False  # end with `memeval compare` of the suite's runs of each task
    epilogue: str = ""  # printed at the end: what the results can and cannot show
    path: str = ""


def _suite_files() -> dict[str, Path]:
    root = resources.files("memeval.suites")
    # policy-*.yaml are gate policies (memeval.gov), not suites
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".yaml")
            and not Path(str(p)).name.startswith("policy-")}


def names() -> dict[str, str]:
    return {n: load(n).description for n in sorted(_suite_files())}


def load(name_or_path: str) -> Suite:
    files = _suite_files()
    path = Path(name_or_path) if name_or_path.endswith((".yaml", ".yml")) else files.get(name_or_path)
    if path is None:
        raise unknown_name("suite", name_or_path, files)
    if not path.exists():
        raise UserError(f"suite file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: invalid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a suite must be a mapping with 'tasks' and 'systems'")
    allowed = {"name", "description", "tasks", "systems", "seeds", "judge", "compare",
               "epilogue"}
    extra = set(raw) - allowed
    if extra:
        raise UserError(f"{path}: unknown key(s) {', '.join(sorted(extra))}; "
                        f"valid: {', '.join(sorted(allowed))}")
    tasks = []
    for i, t in enumerate(raw.get("tasks") or []):
        if isinstance(t, str):
            t = {"task": t}
        if not isinstance(t, dict) or "task" not in t:
            raise UserError(f"{path}: tasks[{i}] needs a 'task' name")
        bad = set(t) - {"task", "options", "limit", "systems"}
        if bad:
            raise UserError(f"{path}: tasks[{i}] has unknown key(s) {', '.join(sorted(bad))}; "
                            "valid: limit, options, systems, task")
        tasks.append(SuiteTask(t["task"], dict(t.get("options") or {}), t.get("limit"),
                               list(t.get("systems") or [])))
    if not tasks:
        raise UserError(f"{path}: no tasks listed")
    return Suite(name=str(raw.get("name", path.stem)), description=str(raw.get("description", "")),
                 tasks=tasks, systems=list(raw.get("systems") or []),
                 seeds=[int(s) for s in raw.get("seeds") or [0]], judge=raw.get("judge"),
                 compare=bool(raw.get("compare", False)),
                 epilogue=str(raw.get("epilogue") or "").strip(), path=str(path))
