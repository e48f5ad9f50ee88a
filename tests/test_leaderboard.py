"""The Streamlit leaderboard (memeval.leaderboard) driven by streamlit.testing.v1.AppTest over
run folders made by real `memeval run` calls (tests/leaderboard_runs.py). Expected values are
read from those runs' own files (metrics.json, scores.jsonl, manifest.json) or from the real
`memeval compare` command, never written down here."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import leaderboard_runs as lr
from helpers import memeval
from memeval.errors import UserError
from memeval.leaderboard import data
from memeval.leaderboard.ranking import N_RESAMPLES
from memeval.leaderboard.safety import PathRefused, resolve_inside, root_of

LOCOMO = ("locomo/bm25", "locomo/no-memory", "locomo/bm25-trunc")  # no-memory: parametric-only
ENV = "MEMEVAL_LEADERBOARD_RUNS"


def app(root: Path, **params: str) -> Any:
    """The app as `memeval leaderboard ROOT` starts it (RUNS_DIR through the environment), run
    once with these query parameters."""
    from streamlit.testing.v1 import AppTest

    os.environ[ENV] = str(root)  # restored by the module fixture below
    at = AppTest.from_file(str(lr.APP), default_timeout=300)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def no_exception(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def wide_tables(at: Any) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if "open" in d.value.columns]


def table_for(at: Any, run: str) -> pd.DataFrame:
    for df in wide_tables(at):
        if run in set(df["run"]):
            return df
    raise AssertionError(f"no leaderboard table lists {run}")


@pytest.fixture(scope="module", autouse=True)
def _restore_env():
    before = os.environ.get(ENV)
    yield
    if before is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = before


@pytest.fixture(scope="module")
def root(llm_spec: str) -> Path:
    return lr.runs_root(llm_spec)


@pytest.fixture(scope="module")
def pristine(root: Path) -> dict[str, Any]:
    return lr.snapshot(root)


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


# ---- leaderboard page -------------------------------------------------------------------------

@pytest.mark.slow
def test_tables_show_each_run_with_its_metrics_json_values(root: Path, pristine: dict) -> None:
    at = app(root)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    runs = [f"synth/{s}" for s in lr.SYNTH] + list(LOCOMO)
    assert len(wide_tables(at)) == 2  # one per task (no suite)
    for run in runs:
        df = table_for(at, run)
        row = df[df["run"] == run].iloc[0]
        man = lr.manifest(root, run)
        assert row["system"].split(":")[0] == man["system"]["name"]  # name[:options]
        checked = 0
        for metric, entry in lr.metrics(root, run)["metrics"].items():
            if entry["overall"] is None:
                continue
            block = entry["overall"]["all"]
            col = metric + (" (lower better)" if f"{metric} (lower better)" in df.columns else "")
            mean = block["mean"]
            assert (pd.isna(row[col]) if mean is None else row[col] == round(100 * mean, 2)), \
                (run, metric)
            ci = lr.headline_ci(block)
            assert row[f"{metric} 95% CI"] == (f"[{pct(ci[0])}, {pct(ci[1])}]" if ci else "-")
            assert row[f"{metric} n (clusters)"] == f"{block['n']} ({block['n_clusters']})"
            checked += 1
        assert checked >= 3, run
    skipped = next(d.value for d in at.dataframe if list(d.value.columns) == ["folder", "reason"])
    reasons = dict(zip(skipped["folder"], skipped["reason"]))
    assert "manifest.json" in reasons["broken"]
    assert "outside" in reasons["linked"]
    assert "outside-run" not in " ".join(d.value.to_csv() for d in at.dataframe)


@pytest.mark.slow
def test_rank_column_is_memeval_compare_ranking(root: Path, tmp_path: Path) -> None:
    """Ranks (ties included) equal the real `memeval compare` on the same runs; a run that
    compare refuses to pair (another judge), or the only run of its setting, is not ranked,
    and the page says why."""
    at = app(root)
    no_exception(at)
    for pair in (LOCOMO, ("synth/oracle", "synth/rag-bm25")):
        out = tmp_path / f"{pair[0].replace('/', '_')}.json"
        memeval("compare", *(str(root / p) for p in pair), "--n-boot", str(N_RESAMPLES),
                "--json", str(out))
        rep = json.loads(out.read_text())
        path_of = {r["label"]: Path(r["path"]).resolve() for r in rep["runs"]}
        df = table_for(at, pair[0])
        compared = 0
        for metric, entries in rep["rankings"].items():
            if f"{metric} rank" not in df.columns:
                continue  # raw per-record scores (e.g. HaluMem 'integrity') are not table metrics
            alone = {s for s in {e["setting"] for e in entries}
                     if sum(x["setting"] == s for x in entries) < 2}
            for e in entries:
                run = path_of[e["run"]].relative_to(root.resolve()).as_posix()
                shown = df.loc[df["run"] == run, f"{metric} rank"].iloc[0]
                want = "-" if e["setting"] in alone else \
                    f"{e['rank']}{'=' if e['shared'] else ''}"
                assert shown == want, (metric, run)
                compared += e["setting"] not in alone
        assert compared >= 4
    synth = table_for(at, "synth/no-memory")
    nomem = synth[synth["run"] == "synth/no-memory"].iloc[0]
    assert all(nomem[c] == "-" for c in synth.columns if c.endswith(" rank"))
    captions = " ".join(c.value for c in at.caption)
    assert "no-memory: not ranked" in captions and "judge" in captions
    assert "the only run of setting parametric-only" in captions  # locomo/no-memory
    assert "cross-setting comparison" in captions
    assert "gold ceiling (audit dial481/locomo-audit" in captions  # beside the LoCoMo table
    assert "gold_ceiling" in table_for(at, LOCOMO[0]).columns
    assert any(s.value.startswith("Three-setting view") for s in at.subheader)


@pytest.mark.slow
def test_filters_task_family_judge_and_category_convention(root: Path) -> None:
    at = app(root)
    assert set(at.multiselect(key="f:task").options) == {"halumem-synth", "locomo"}
    at.multiselect(key="f:task").set_value(["locomo"]).run()
    no_exception(at)
    tables = wide_tables(at)
    assert len(tables) == 1 and set(tables[0]["run"]) == set(LOCOMO)

    at.multiselect(key="f:task").set_value([]).run()
    # families as the runs' own metrics.json declares them (LoCoMo declares no faithfulness)
    declared = lr.metrics(root, "synth/oracle")["metrics"]
    faithful = {m for m, e in declared.items() if e["spec"]["family"] == "faithfulness"}
    at.multiselect(key="f:metric family").set_value(["faithfulness"]).run()
    synth = table_for(at, "synth/oracle")
    metric_cols = [c.removesuffix(" rank") for c in synth.columns if c.endswith(" rank")]
    assert metric_cols and set(metric_cols) <= faithful and "qa_hallucination" in metric_cols
    assert any("no metric of the chosen families" in i.value for i in at.info)  # LoCoMo has none

    at.multiselect(key="f:metric family").set_value([]).run()
    judges = lr.metrics(root, "synth/oracle")["judges"]
    at.multiselect(key="f:judge").set_value([", ".join(judges)]).run()
    tables = wide_tables(at)
    assert len(tables) == 1 and set(tables[0]["run"]) == {"synth/oracle", "synth/rag-bm25"}

    at.multiselect(key="f:judge").set_value([]).run()
    model = lr.manifest(root, LOCOMO[0])["llm"]["model"]
    at.multiselect(key="f:answer model").set_value([model]).run()
    at.multiselect(key="f:setting").set_value([lr.manifest(root, LOCOMO[0])["setting"]]).run()
    assert len(wide_tables(at)) == 2

    cat = lr.metrics(root, LOCOMO[0])["metrics"]["f1_official"]["strata"]["category"]["4"]
    names = cat["labels"]
    assert names["data"] != names["mem0"]  # the two conventions label category 4 differently
    for convention, name in names.items():
        at.radio(key="f:convention").set_value(convention).run()
        long = next(d.value for d in at.dataframe if "stratum" in d.value.columns
                    and LOCOMO[0] in set(d.value["run"]))
        labels = set(long.loc[long["stratum key"] == "category", "stratum"])
        assert f"4 {name}" in labels, (convention, labels)
    no_exception(at)


@pytest.mark.slow
def test_plots_metric_ci_and_by_question_type(root: Path) -> None:
    at = app(root)
    images = at.get("image")
    assert len(images) >= 4  # per table: metric with CI bars, metric by question type/category
    boxes = {s.key: s for s in at.selectbox}
    strata = [s for k, s in boxes.items() if k and k.startswith("strata-metric:")]
    assert any(s.value == "qa_correct" for s in strata)  # HaluMem accuracy by question type
    key = next(k for k, s in boxes.items() if k and k.startswith("plot:") and
               "f1_official" in s.options)
    at.selectbox(key=key).set_value("f1_official").run()
    no_exception(at)
    assert len(at.get("image")) == len(images)


# ---- system and compare pages -------------------------------------------------------------------

@pytest.mark.slow
def test_system_page_shows_manifest_card_cost_and_failures(root: Path) -> None:
    run = LOCOMO[0]
    at = app(root, page="system", run=run)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    man = lr.manifest(root, run)
    kv = {r["field"]: r["value"] for d in at.dataframe
          if list(d.value.columns) == ["field", "value"] for r in d.value.to_dict("records")}
    assert man["llm"]["model"] in kv["answer model"]
    assert man["system"]["name"] in kv["system and version"]
    assert kv["run id"] == man["run_id"]
    cost = next(d.value for d in at.dataframe if "caller" in d.value.columns)
    assert set(cost["caller"]) == set(man["cost"])
    lines = (root / run / "predictions.jsonl").read_text().splitlines()
    preds = {p["sample_id"]: p for p in map(json.loads, lines)}  # the last line per sample
    failed = sum(p["error"] is not None for p in preds.values())
    assert any(m.value.startswith(f"{failed} of {len(preds)} predictions failed")
               for m in at.markdown)
    assert at.json and json.loads(at.json[0].value)["run_id"] == man["run_id"]


@pytest.mark.slow
def test_compare_page_quadrants_list_the_items(root: Path) -> None:
    a, b = LOCOMO[:2]
    at = app(root, page="compare", a=a, b=b)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    pairs = next(d.value for d in at.dataframe if "A - B x100" in d.value.columns)
    ma, mb = lr.metrics(root, a)["metrics"], lr.metrics(root, b)["metrics"]
    for r in pairs.to_dict("records"):  # every item is common: means equal metrics.json
        assert r["A x100"] == pct(ma[r["metric"]]["overall"]["all"]["mean"])
        assert r["B x100"] == pct(mb[r["metric"]]["overall"]["all"]["mean"])
    qkey = next(s.key for s in at.selectbox if s.key and s.key.startswith("q-metric:"))
    for metric, threshold in ((at.selectbox(key=qkey).value, 0.5), ("f1_set", 0.3)):
        at.selectbox(key=qkey).set_value(metric)
        at.slider(key=qkey.replace("q-metric:", "q-thr:")).set_value(threshold)
        at.run()
        no_exception(at)
        want = lr.expected_quadrants(root, a, b, metric, threshold)
        shown = {m.label: int(m.value) for m in at.metric}
        assert shown == {q: len(ids) for q, ids in want.items()}, (metric, threshold)
        assert sum(shown.values()) == len(lr.item_scores(root, a, metric))  # all items common
        listed = [d.value for d in at.dataframe if "A score" in d.value.columns]
        assert [set(df["sample_id"]) for df in listed] == list(want.values()), metric


@pytest.mark.slow
def test_compare_page_says_why_runs_cannot_be_paired(root: Path) -> None:
    at = app(root, page="compare", a="synth/oracle", b="synth/no-memory")
    no_exception(at)
    assert any("cannot compare" in e.value and "judge differs" in e.value for e in at.error)
    assert not at.metric


@pytest.mark.slow
def test_every_table_comes_with_a_csv_download(root: Path) -> None:
    for params in ({}, {"page": "system", "run": "synth/oracle"},
                   {"page": "compare", "a": LOCOMO[0], "b": LOCOMO[1]}):
        at = app(root, **params)
        no_exception(at)
        assert at.dataframe and len(at.download_button) == len(at.dataframe), params
    df = table_for(app(root), LOCOMO[0])
    back = pd.read_csv(io.BytesIO(data.csv_bytes(df)))
    assert list(back.columns) == list(df.columns) and list(back["run"]) == list(df["run"])


# ---- paths outside RUNS_DIR ------------------------------------------------------------------

@pytest.mark.slow
def test_paths_outside_runs_dir_are_refused(root: Path, pristine: dict) -> None:
    outside = root.parent / "outside-run"
    assert (outside / "manifest.json").is_file()  # a real run: refusing it is the point
    for params in ({"page": "system", "run": "../outside-run"},
                   {"page": "system", "run": str(outside)},
                   {"page": "system", "run": "linked"},
                   {"page": "system", "run": "synth/../../outside-run"},
                   {"page": "compare", "a": "synth/oracle", "b": "../outside-run"}):
        at = app(root, **params)
        no_exception(at)
        assert any("refused" in e.value for e in at.error), (params, [e.value for e in at.error])
        assert not at.json and not at.metric, params  # nothing of the run was shown
    at = app(root, page="system", run="broken")
    assert any("skipped" in e.value and "manifest.json" in e.value for e in at.error)
    at = app(root, page="system")
    at.text_input(key="type:system").input("../outside-run").run()
    assert any("refused" in e.value for e in at.error)
    assert not at.json
    at.text_input(key="type:system").input("synth/rag-bm25").run()  # inside: accepted
    assert not at.error and json.loads(at.json[0].value)["run_id"] == "rag-bm25"


def test_resolve_inside_refuses_escapes(tmp_path: Path) -> None:
    """Path rules alone (no run content involved): `..`, absolute paths, symlinks out, NUL."""
    base = tmp_path / "runs"
    (base / "a" / "run1").mkdir(parents=True)
    (base / "a" / "run1" / "manifest.json").touch()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "manifest.json").touch()
    (base / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (base / "a" / "run2").mkdir()
    (base / "a" / "run2" / "manifest.json").symlink_to(tmp_path / "elsewhere" / "manifest.json")
    root = root_of(base)
    assert resolve_inside(root, "a/run1") == root / "a" / "run1"
    assert resolve_inside(root, str(root / "a" / "run1")) == root / "a" / "run1"
    for bad in ("../elsewhere", str(tmp_path / "elsewhere"), "out", "a/../../elsewhere",
                "a/run1/../../../elsewhere", "a\x00b", "", "a/run2", "a"):
        with pytest.raises(PathRefused):
            resolve_inside(root, bad)
    with pytest.raises(UserError):
        root_of(tmp_path / "missing")


# ---- cache --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cache_reparses_only_the_changed_run(root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(root / "synth", copy)  # a private copy: RUNS_DIR itself is never written
    cache = data.RunCache()
    first = data.scan(root_of(copy), cache)
    assert len(first.runs) == len(lr.SYNTH) and cache.misses == len(lr.SYNTH)
    again = data.scan(root_of(copy), cache)
    assert cache.misses == len(lr.SYNTH) and cache.hits >= len(lr.SYNTH)
    assert [r.manifest for r in again.runs] == [r.manifest for r in first.runs]
    mpath = copy / "oracle" / "metrics.json"
    m = json.loads(mpath.read_text())
    m["metrics"]["qa_correct"]["overall"]["all"]["mean"] = 0.125
    mpath.write_text(json.dumps(m))
    third = data.scan(root_of(copy), cache)
    assert cache.misses == len(lr.SYNTH) + 1
    got = third.by_name()["oracle"].results.metrics["qa_correct"].overall.all.mean
    assert got == 0.125


@pytest.mark.slow
def test_run_files_linked_out_of_runs_dir_are_skipped(root: Path, tmp_path: Path) -> None:
    """A run folder inside RUNS_DIR whose scores.jsonl links outside it is never read."""
    runs = tmp_path / "runs"
    shutil.copytree(root / "synth" / "oracle", runs / "ok")
    shutil.copytree(root / "synth" / "rag-bm25", runs / "sneaky")
    outside = tmp_path / "elsewhere.jsonl"
    shutil.move(runs / "sneaky" / "scores.jsonl", outside)
    (runs / "sneaky" / "scores.jsonl").symlink_to(outside)
    scan = data.scan(root_of(runs), data.RunCache())
    assert [r.name for r in scan.runs] == ["ok"]
    assert [(s.name, "scores.jsonl" in s.reason and "refused" in s.reason)
            for s in scan.skipped] == [("sneaky", True)]
    at = app(runs, page="system", run="sneaky")
    assert any("sneaky" in e.value and "skipped" in e.value for e in at.error)
    assert not at.json


@pytest.mark.slow
def test_a_corrupt_scores_file_is_reported_not_a_crash(root: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name in ("oracle", "rag-bm25"):
        shutil.copytree(root / "synth" / name, runs / name)
    scores = runs / "rag-bm25" / "scores.jsonl"
    lines = scores.read_text().splitlines(keepends=True)
    scores.write_text("".join(lines[:3]) + "{not json\n" + "".join(lines[3:]))
    at = app(runs)
    no_exception(at)
    assert len(table_for(at, "rag-bm25")) == 2  # metrics.json is intact: both runs listed
    captions = " ".join(c.value for c in at.caption)
    assert "not ranked" in captions and "line 4" in captions
    at = app(runs, page="system", run="rag-bm25")
    no_exception(at)
    assert any("line 4" in e.value for e in at.error)
    assert json.loads(at.json[0].value)["run_id"] == "rag-bm25"  # the manifest still shows


@pytest.mark.slow
def test_metrics_with_a_unit_are_not_scaled(root: Path, tmp_path: Path) -> None:
    """metrics.json entries with a unit (bits, nats) are shown as they are, not x100."""
    runs = tmp_path / "runs"
    shutil.copytree(root / "synth" / "rag-bm25", runs / "r")
    mpath = runs / "r" / "metrics.json"
    m = json.loads(mpath.read_text())
    m["metrics"]["weighted_recall"]["spec"]["unit"] = "bits"
    mpath.write_text(json.dumps(m))
    scan = data.scan(root_of(runs), data.RunCache())
    wide = data.wide_table(data.long_table(scan.runs))
    block = m["metrics"]["weighted_recall"]["overall"]["all"]
    assert wide["weighted_recall (bits)"].iloc[0] == float(f"{block['mean']:.4g}")
    ci = lr.headline_ci(block)
    assert wide["weighted_recall 95% CI"].iloc[0] == f"[{ci[0]:.4g}, {ci[1]:.4g}]"
    fraction = m["metrics"]["memory_recall"]["overall"]["all"]["mean"]
    assert wide["memory_recall"].iloc[0] == round(100 * fraction, 2)


# ---- read-only, CLI -----------------------------------------------------------------------------

@pytest.mark.slow
def test_the_app_never_writes_into_runs_dir(root: Path, pristine: dict) -> None:
    for params in ({}, {"page": "system", "run": "locomo/bm25"},
                   {"page": "compare", "a": LOCOMO[0], "b": LOCOMO[1]},
                   {"page": "compare", "a": "synth/oracle", "b": "synth/rag-bm25"}):
        no_exception(app(root, **params))
    assert lr.snapshot(root) == pristine


def test_cli_refuses_a_missing_runs_dir(tmp_path: Path) -> None:
    proc = memeval("leaderboard", str(tmp_path / "nope"), "--port", "8599", check=False)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
