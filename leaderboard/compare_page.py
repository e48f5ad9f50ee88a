"""The side-by-side page (?a=PATH&b=PATH): memeval compare's paired tests for the two runs, and
per-sample outcome quadrants (both right, A only, B only, both wrong) with the items listed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from memeval.comparison import CompareReport
from memeval.leaderboard import data
from memeval.leaderboard.data import pct
from memeval.leaderboard.ranking import COMPARE_RESAMPLES, compare_group
from memeval.leaderboard.safety import relative_name
from memeval.leaderboard.sidebyside import QUADRANTS, common_metrics, quadrants
from memeval.leaderboard.system_page import pick_run
from memeval.leaderboard.ui import show_table, slug

# Default metric of the quadrants: a pack's headline right/wrong metric when there is one.


def _p(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def pairs_frame(rep: CompareReport) -> pd.DataFrame:
    return pd.DataFrame([{
        "metric": p.metric, "n (clusters)": f"{p.n} ({p.n_clusters})", "A x100": pct(p.mean_a),
        "B x100": pct(p.mean_b), "A - B x100": pct(p.diff),
        "95% CI (paired cluster bootstrap)": f"[{pct(p.ci[0])}, {pct(p.ci[1])}]" if p.ci
        else "-", "test": p.test, "p": _p(p.p_raw), f"p {rep.correction}": _p(p.p_corrected),
        "significant": p.significant, "Cohen's d": "-" if p.cohens_d is None
        else f"{p.cohens_d:.2f}", "Cliff's delta": "-" if p.cliffs_delta is None
        else f"{p.cliffs_delta:.2f}", "MDE x100": pct(p.mde)} for p in rep.pairs])


def render(scan: data.Scan, correction: str = "holm") -> None:
    st.title("Compare two systems")
    if len(scan.runs) < 2:
        st.info("the side-by-side view needs at least two finished runs")
        return
    col_a, col_b = st.columns(2)
    with col_a:
        pa = pick_run(scan, "a", "A", "cmp-a", default=0)
    if pa is None:
        return
    by = scan.by_name()
    a = by[relative_name(scan.root, pa)]
    names = [r.name for r in scan.runs]  # B defaults to another run of A's task
    default_b = next((i for i, r in enumerate(scan.runs) if r.task == a.task and r.name != a.name),
                     1 if names.index(a.name) == 0 else 0)
    with col_b:
        pb = pick_run(scan, "b", "B", "cmp-b", default=default_b)
    if pb is None:
        return
    b = by[relative_name(scan.root, pb)]
    if a.name == b.name:
        st.warning("A and B are the same run: pick two different runs")
        return
    st.caption(f"A = {a.label} ({a.name}) · B = {b.label} ({b.name})")
    # not comparable (task, data, setting or judge differ): UserError -> st.error with the reason
    rep = compare_group([a, b], correction, COMPARE_RESAMPLES)
    key = slug(f"{a.name}-vs-{b.name}")
    st.subheader("Paired tests (A - B)")
    show_table(pairs_frame(rep), f"compare-{key}", f"pairs:{key}")
    for note in rep.notes:
        st.caption(note)
    render_quadrants(a, b, key)


def render_quadrants(a: data.RunSummary, b: data.RunSummary, key: str) -> None:
    st.subheader("Per-sample outcomes")
    ra, rb = data.CACHE.loaded(a.path), data.CACHE.loaded(b.path)
    metrics = common_metrics(ra, rb)
    if not metrics:
        st.info("the two runs share no scored item")
        return
    shown = [m for m in metrics if m in a.results.metrics] or metrics
    # default: the first right/wrong metric of the correctness family (e.g. qa_correct)
    first = next((i for i, m in enumerate(shown) if ra.spec(m).family == "correctness"), 0)
    metric = str(st.selectbox("metric", shown, index=first, key=f"q-metric:{key}"))
    threshold = st.slider("an item is right when its score reaches", 0.0, 1.0, 0.5, 0.05,
                          key=f"q-thr:{key}", help="value >= t; for lower-is-better metrics "
                          "(hallucination, omission) value <= 1 - t. Binary metrics: 0.5")
    preds_a = data.CACHE.memo(("preds", str(a.path), a.fingerprint),
                              lambda: ra.folder.predictions())
    preds_b = data.CACHE.memo(("preds", str(b.path), b.fingerprint),
                              lambda: rb.folder.predictions())
    q = quadrants(ra, rb, metric, float(threshold), preds_a, preds_b)
    counts = q.counts()
    rule = (f"score <= {1 - q.threshold:g}" if not ra.spec(metric).higher_is_better
            else f"score >= {q.threshold:g}")
    st.caption(f"Outcomes on {metric}: an item is right when its {rule}"
               + (" (binary metric)" if q.binary else ""))
    cols = st.columns(4)
    for col, name in zip(cols, QUADRANTS):
        col.metric(name, counts[name])
    show_table(q.summary(), f"quadrants-{key}-{metric}", f"qsum:{key}:{metric}")
    if q.n_only_a or q.n_only_b:
        st.caption(f"{q.n_only_a} item(s) scored in A only and {q.n_only_b} in B only are left "
                   "out (no pair)")
    for name in QUADRANTS:
        with st.expander(f"{name}: {counts[name]} item(s)"):
            show_table(q.items[name], f"{name}-{key}-{metric}", f"qitems:{key}:{metric}:{name}")
