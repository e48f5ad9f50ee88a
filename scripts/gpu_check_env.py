"""The environment half of scripts/gpu-check: memeval importable from an uninstalled checkout,
and the wheels the device machine lacks (it is offline: they are fetched here and carried)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# setup.py's package_dir (tests/test_gpu_check.py checks that they agree)
ROOTS = {"memeval": "memeval", "memeval.tasks": "tasks", "memeval.adapters": "adapters",
         "memeval.metrics": "metrics", "memeval.suites": "suites",
         "memeval.leaderboard": "leaderboard"}
WHEELS = REPO / ".gpu-wheels"
# pip names of what the device lacks, pinned here to the versions installed where this runs
CARRIED = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection",
           "typing-extensions", "faker")


def install_wheels(folder: Path) -> None:
    """Carried wheels, installed offline first on sys.path (pydantic-core is compiled)."""
    target = Path(tempfile.mkdtemp(prefix="gpu-check-site-"))
    wheels = sorted(str(p) for p in folder.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--no-compile", "--target", str(target), *wheels], check=True)
    sys.path.insert(0, str(target))


MOUNTED: list[str] = []  # the names mapped here (an install maps none of them)


def mount_checkout() -> None:
    """memeval importable from this checkout: memeval/ is on the path, and tasks/, adapters/,
    ... become memeval.tasks, memeval.adapters, ... unless an install already maps them."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    importlib.import_module("memeval")
    for name, folder in ROOTS.items():
        if name == "memeval" or name in sys.modules or importlib.util.find_spec(name):
            continue
        spec = importlib.util.spec_from_file_location(
            name, REPO / folder / "__init__.py", submodule_search_locations=[str(REPO / folder)])
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        setattr(sys.modules["memeval"], name.split(".", 1)[1], mod)
        MOUNTED.append(name)


def import_pack() -> str | None:
    """None when what the capacity sweep runs imports; else the name of the missing module
    (found by importing, not by a hand-kept list: statsmodels may pull in what the device lacks)."""
    try:
        mount_checkout()
        for mod in ("torch", "transformers", "memeval.tasks.capacity.task",
                    "memeval.adapters.lm.hf", "memeval.run_context"):
            importlib.import_module(mod)
    except ImportError as e:  # ModuleNotFoundError names the module
        return e.name or str(e)
    return None


def prepare_wheels() -> int:
    """Download (here, with network) the wheels the device lacks, for its CPython 3.12."""
    from importlib.metadata import version
    pins = [f"{n}=={version(n)}" for n in CARRIED]
    plats = [a for p in ("manylinux_2_28", "manylinux_2_17", "manylinux2014")
             for a in ("--platform", f"{p}_x86_64")]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", *plats, "-d", str(WHEELS),
           *pins]
    print(" ".join(cmd), flush=True)
    if rc := subprocess.run(cmd).returncode:
        return rc
    size = sum(p.stat().st_size for p in WHEELS.glob("*.whl")) / 2**20
    print(f"{WHEELS}: {size:.1f} MiB; carry '.gpu-wheels' with the checkout")
    return 0
