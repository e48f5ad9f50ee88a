"""The code's shape, checked: the engine (memeval/) knows no task pack or adapter except through
the registry, no import cycle exists (imports inside functions included), no module passes 400
lines, no pack or system name is compared or keyed in the engine, and every package folder is
installed (no hand-kept list in pyproject.toml)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"memeval": "memeval", "memeval.tasks": "tasks", "memeval.adapters": "adapters",
         "memeval.metrics": "metrics", "memeval.suites": "suites",
         "memeval.leaderboard": "leaderboard"}
ENGINE_EXEMPT = {"memeval.registry"}  # the one place that names the built-in packs


def modules() -> dict[str, Path]:
    out = {}
    for name, root in ROOTS.items():
        for f in sorted((REPO / root).rglob("*.py")):
            rel = f.relative_to(REPO / root).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            out[".".join((name, *rel))] = f
    return out


MODULES = modules()


def imports(mod: str, path: Path) -> set[str]:
    """Every module `mod` imports, at module level or inside functions; `from a import b`
    counts as importing a.b when that is a module."""
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return {m for m in out if m in MODULES}


GRAPH = {m: imports(m, p) - {m} for m, p in MODULES.items()}


def test_the_engine_imports_no_pack_and_no_adapter() -> None:
    bad = {m: sorted(d for d in deps if d.startswith(("memeval.tasks", "memeval.adapters")))
           for m, deps in GRAPH.items()
           if m.startswith(("memeval.", "memeval.leaderboard")) and m.split(".")[1] not in
           ("tasks", "adapters") and m not in ENGINE_EXEMPT}
    assert not {m: d for m, d in bad.items() if d}


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles


def test_a_cycle_would_be_found() -> None:
    """The scan sees imports inside functions (the circles lazy imports used to hide)."""
    src = "def f():\n    from memeval.runner import Runner\n"
    tree_imports = {n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)}
    assert tree_imports == {"memeval.runner"}
    assert "memeval.runfolder" in GRAPH["memeval.runner"]


def test_no_module_over_400_lines() -> None:
    long = {m: n for m, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long


def _names() -> set[str]:
    from memeval import registry

    return set(registry.TASKS) | set(registry.SYSTEMS)


def _pack_words(names: set[str]) -> set[str]:
    out = set()
    for n in names:
        out |= {n, n.replace("-", "_")}
    return out


def test_no_pack_or_system_name_in_the_engine() -> None:
    """No identifier, dict key or compared string names a built-in task or system in the
    engine; a name inside help or example text is fine."""
    from memeval import registry

    words = _pack_words(_names())
    # identifiers: the task names and the library systems (a baseline's name such as
    # full-context is also a capability's word, full_context, which the engine must know)
    ident_words = _pack_words(set(registry.TASKS)) | {"amem", "mem0", "langmem", "rrr"}
    found = []
    for mod, path in MODULES.items():
        if not mod.startswith("memeval.") or mod.split(".")[1] in ("tasks", "adapters",
                                                                 "metrics", "suites") \
                or mod in ENGINE_EXEMPT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            ident = (node.id if isinstance(node, ast.Name) else node.attr
                     if isinstance(node, ast.Attribute) else node.name
                     if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None)
            if ident and any(w in ident.lower() for w in ident_words):
                found.append((mod, ident))
            keys = node.keys if isinstance(node, ast.Dict) else \
                [node.left, *node.comparators] if isinstance(node, ast.Compare) else []
            for k in keys:
                elts = k.elts if isinstance(k, (ast.Tuple, ast.List, ast.Set)) else [k]
                for e in elts:
                    if isinstance(e, ast.Constant) and e.value in words:
                        found.append((mod, e.value))
    assert not found


def test_the_name_scan_would_catch_a_pack_name() -> None:
    words = _pack_words(_names())
    tree = ast.parse('x = {"locomo": 1}\nif task in ("halumem", "halumem-synth"): pass\n')
    seen = [e.value for n in ast.walk(tree) for e in
            (n.keys if isinstance(n, ast.Dict) else
             [el for c in (n.comparators if isinstance(n, ast.Compare) else [])
              for el in getattr(c, "elts", [c])]) if isinstance(e, ast.Constant)]
    assert set(seen) <= words and {"locomo", "halumem-synth"} <= set(seen)


@pytest.mark.parametrize("pkg", sorted(m for m, p in MODULES.items()
                                       if p.name == "__init__.py"))
def test_every_package_folder_is_installed(pkg: str) -> None:
    """setup.py finds packages by walking the folders: a new pack folder is installed without
    an edit to any list (the editable install here maps it; a wheel build ships it)."""
    spec = importlib.util.find_spec(pkg)
    assert spec is not None and Path(spec.origin).resolve() == MODULES[pkg].resolve()


def test_setup_finds_every_package_folder() -> None:
    import runpy
    import sys
    from unittest import mock

    with mock.patch("setuptools.setup") as setup, mock.patch.object(sys, "argv", ["setup.py"]):
        cwd = Path.cwd()
        import os
        os.chdir(REPO)
        try:
            runpy.run_path(str(REPO / "setup.py"))
        finally:
            os.chdir(cwd)
    found = set(setup.call_args.kwargs["packages"])
    assert found == {m for m, p in MODULES.items() if p.name == "__init__.py"}


def test_helper_timeouts_are_below_pytests_own() -> None:
    """A hung subprocess must fail with its own message, before pytest-timeout kills the test
    (and with it the output that would say why)."""
    import inspect
    import tomllib

    import helpers
    import memeval_runs

    limit = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]["timeout"]
    for fn in (helpers.memeval, memeval_runs.memeval):
        assert inspect.signature(fn).parameters["timeout"].default < limit, fn.__module__
    long = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = getattr(call, "func", None)
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name not in ("memeval", "cli", "run", "communicate", "wait"):
                continue  # e.g. Playwright's timeouts are milliseconds of a page wait
            for kw in call.keywords:
                if kw.arg == "timeout" and isinstance(kw.value, ast.Constant) \
                        and kw.value.value >= limit:
                    long.append((path.name, kw.value.value))
    assert not long


def _documented_names() -> set[str]:
    import re

    names = set()
    for doc in ("README.md", "CONTRIBUTING.md", "adapters/README.md"):
        names |= set(re.findall(r"`(memeval(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`",
                                (REPO / doc).read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize("name", sorted(_documented_names()))
def test_every_documented_name_imports_as_written(name: str) -> None:
    """`memeval.tasks.locomo.score_answer` in the README is `from memeval.tasks.locomo import
    score_answer`: each dotted name the docs give is a module or an attribute of one."""
    import importlib

    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            assert hasattr(obj, attr), f"{name}: {'.'.join(parts[:cut])} has no {attr}"
            obj = getattr(obj, attr)
        return
    pytest.fail(f"{name}: no such module")


def test_the_docs_name_what_the_readme_promises() -> None:
    assert "memeval.tasks.locomo.score_answer" in _documented_names()
