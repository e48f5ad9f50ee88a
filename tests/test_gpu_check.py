"""scripts/gpu-check in its CPU-sized mode: it runs from the checkout without the install,
its JSON summary is well formed, and its figures agree with numbers computed here from the
paper's formulas and the architecture (not by memeval's code), its budget guard skips what
would not fit, and a missing module is named."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu-check"
# runs the script as the device would: with the editable install's import finder removed, so
# memeval.tasks & co. resolve only through the script's own mapping of the checkout
PRELUDE = ("import runpy, sys; sys.meta_path[:] = [f for f in sys.meta_path if not "
           "getattr(f, '__module__', '').startswith('__editable__')]; ")


def _script() -> Any:
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(SCRIPT))
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _run(args: list[str], prelude: str = "", timeout: float = 600) -> subprocess.CompletedProcess:
    code = (PRELUDE + prelude + f"sys.argv = [{str(SCRIPT)!r}, *{args!r}]; "
            f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={k: v for k, v in os.environ.items()
                                                          if k not in ("OUT", "PYTHONPATH")})


def test_the_checkout_mapping_is_setup_pys() -> None:
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    roots = next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "ROOTS" for t in n.targets))
    assert _script().ROOTS == roots


# ---- the tiny run, once for the module: ~30 s on 2 cores ----
N, K, C, D, L, T = 50, 2, 1, 8, 2, 16  # the tiny mode's bioD (scripts/gpu-check TINY)
EXPOSURES, BATCH, CONTEXT = 300, 4, 512
N0 = 400 * 400 * 1000


def _max_bits(n: int) -> float:
    """bioD's information content (Allen-Zhu & Li 3.3): a perfect model's bits."""
    return n * math.log2(N0 / n) + n * K * C * math.log2(D) + K * D * (L * math.log2(T)
                                                                        - math.log2(D))


def _bits(n: int, p1: float, p2: float, p3: float) -> float:
    """The paper's bioD bits from (per-attribute) span losses in nats."""
    ln2 = math.log(2)
    return (n * (math.log2(N0) - p1 / ln2) + n * K * (C * math.log2(D) - p2 / ln2)
            + K * D * (L * math.log2(T) - math.log2(D) - p3 / ln2))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("gpu-check")
    # a budget no tiny run reaches: on a busy machine the probes would otherwise skip models
    # (the guard has its own test); the work itself is fixed, ~40 s of CPU
    proc = _run(["--tiny", "--device", "cpu", "--budget", "600", "--out", str(out)], timeout=800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads((out / "gpu_check.json").read_text())


def test_tiny_mode_runs_from_the_checkout(tiny) -> None:
    proc, res = tiny
    assert res["mode"] == "tiny" and res["device"]["requested"] == "cpu"
    assert set(res["mounted"]) == {"memeval.tasks", "memeval.adapters", "memeval.metrics",
                                   "memeval.suites", "memeval.leaderboard"}
    assert res["wall_s"] < res["budget_s"] and "stopped" not in res
    assert "peak R" in proc.stdout


def test_tiny_capacity_figures_match_the_formulas(tiny) -> None:
    _, res = tiny
    cap = res["capacity"]
    assert cap["n"] == N and cap["exposures"] == EXPOSURES
    assert cap["max_bits"] == pytest.approx(_max_bits(N), rel=1e-12)
    assert [r["config"] for r in cap["configs"]] == ["1x8@300x", "1x16@300x"]
    assert cap["skipped"] == []
    # every record: 7 name symbols, then per attribute a keyword and C*L symbols, then EOS;
    # the stream of N*E records is cut into 512-token windows, batched by 4
    stream = N * EXPOSURES * (7 + K * (1 + C * L) + 1)
    windows = math.ceil(stream / CONTEXT)
    for r in cap["configs"]:
        layers, width = (int(x) for x in r["config"].split("@")[0].split("x"))
        assert r["device"] == "cpu"
        assert r["steps"] == math.ceil(windows / BATCH)
        assert r["tokens"] == stream - windows  # the first token of a window is not predicted
        # GPT-NeoX block: LayerNorms 4w, QKV 3w^2+3w, out w^2+w, MLP 8w^2+5w; final LN 2w;
        # tied embeddings, counted once
        assert r["vocab_rows"] >= 110 + K + T  # the name, keyword and value alphabets
        total = layers * (12 * width**2 + 13 * width) + 2 * width + r["vocab_rows"] * width
        assert r["params_total"] == total
        # unused vocabulary rows are excluded; the pad token is never in a training window
        assert total - r["vocab_rows"] * width < r["params"] <= total - width
        m = r["mean_losses"]
        assert all(math.isfinite(v) and v >= 0 for v in m.values())
        assert r["bits"] == pytest.approx(_bits(N, m["p1"], m["p2"], m["p3"]), rel=1e-9)
        assert 0 < r["bits"] <= _max_bits(N)  # learned something, never more than there is
        assert r["R"] == pytest.approx(r["bits"] / r["params"], rel=1e-9)
        assert r["R_max"] == pytest.approx(_max_bits(N) / r["params"], rel=1e-9)
        assert 0 < r["train_s"] <= r["wall_s"]
    assert cap["peak"]["R"] == max(r["R"] for r in cap["configs"])
    # then the peak's size again at half the batch: the same tokens in twice the steps
    (more,) = res["more_steps"]["configs"]
    assert more["config"] == cap["peak"]["config"] and more["tokens"] == stream - windows
    assert more["steps"] == math.ceil(windows / (BATCH // 2))
    assert res["more_steps"]["train"]["batch_size"] == BATCH // 2
    assert 0 < more["bits"] <= _max_bits(N)


def test_tiny_densing_family_and_self_check(tiny) -> None:
    _, res = tiny
    den = res["densing"]
    assert "skipped" not in den, den
    roles = [m["role"] for m in den["family"]]
    # 3 sizes x 2 multipliers, one held out of the fits, then the untrained target
    assert roles == ["reference"] * 3 + ["holdout"] + ["reference"] * 2 + ["target"]
    items = 4 * 5  # test_people x the 5 attributes of a biography
    for m in den["family"]:
        assert m["items"] == items and m["params"] > 0 and m["tokens"] > 0
        assert 0 <= m["score"] <= 1 and math.isfinite(m["loss"]) and m["loss"] > 0
    trained = [m for m in den["family"] if m["role"] != "target"]
    for m in trained:  # about multiplier x params training tokens
        mult = float(m["config"].split("@")[1].rstrip("x"))
        assert 0.5 * mult * m["params"] <= m["tokens"] <= 2 * mult * m["params"]
    if isinstance(den["fits"], str):  # the pack's fits may not end inside the tiny budget
        assert den["fits"].startswith("not finished within the budget")
    else:
        assert all(math.isfinite(f["r2"]) for f in den["fits"].values())
        held = den["holdout"]
        assert held["config"] == "1x12@2x"
        assert (held["in_range"] and held["density"] > 0) or held["reason"]


def test_the_budget_guard_skips_what_would_not_fit(tmp_path: Path) -> None:
    proc = _run(["--tiny", "--device", "cpu", "--no-densing", "--budget", "0.5", "--out",
                 str(tmp_path)], timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # nothing ran
    cap = json.loads((tmp_path / "gpu_check.json").read_text())["capacity"]
    assert cap["configs"] == [] and len(cap["skipped"]) == 2
    assert all(s["predicted_s"] > s["left_s"] for s in cap["skipped"])
    assert "no model ran" in proc.stdout


def test_a_missing_module_is_named(tmp_path: Path) -> None:
    proc = _run(["--tiny", "--wheels", str(tmp_path)], prelude="sys.modules['pydantic'] = None; ",
                timeout=120)
    assert proc.returncode == 2
    assert "missing Python module 'pydantic'" in proc.stderr and "--prepare-wheels" in proc.stderr
