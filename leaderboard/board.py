"""The leaderboard page: per suite and task, a table of systems x metrics (mean, headline
95% CI, n (clusters), rank with ties from corrected paired tests), its long form with every
stratum, and plots; every table downloadable as CSV."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from memeval.errors import UserError
from memeval.leaderboard import data, plots
from memeval.leaderboard.ranking import rank_runs
from memeval.settings_view import three_setting_view
from memeval.leaderboard.ui import show_table, slug


def system_link(run: str) -> str:
    return f"?page=system&run={quote(run, safe='')}"


def render(scan: data.Scan, chosen: dict[str, Any]) -> None:
    st.title("memeval leaderboard")
    if scan.skipped:
        with st.expander(f"{len(scan.skipped)} folder(s) skipped", expanded=not scan.runs):
            show_table(pd.DataFrame([[s.name, s.reason] for s in scan.skipped],
                                    columns=["folder", "reason"]), "skipped", "skipped")
    runs = data.apply_filters(scan.runs, chosen)  # type: ignore[arg-type]
    if not runs:
        st.info("no run matches the filters" if scan.runs else
                f"no finished run folder (manifest.json + metrics.json) under {scan.root}")
        return
    st.caption("Means on the '(all)' estimator (an invalid or failed item scores 0), fractions "
               "x100 (a metric with a unit, such as bits, as it is); the "
               "95% CI is the cluster bootstrap below 30 clusters, else Student-t on C-1 df. "
               "Rank: memeval compare's paired tests, corrected across all pairs and metrics "
               "of a table.")
    families = list(chosen.get("metric family") or [])
    convention = str(chosen["convention"]) if chosen.get("convention") else None
    correction = str(chosen.get("correction") or "holm")
    for (suite, task), members in data.groups(runs).items():
        render_group(suite, task, members, families, convention, correction)


def render_group(suite: str, task: str, members: list[data.RunSummary], families: list[str],
                 convention: str | None, correction: str) -> None:
    key = slug(f"{suite}-{task}")
    st.header(f"{task}  ·  suite {suite}")
    long = data.long_table(members, families, convention)
    if long.empty:
        st.info("no metric of the chosen families in these runs")
        return
    try:
        ranking = rank_runs(members, correction)
        ranks, notes = ranking.ranks, ranking.notes
    except UserError as e:
        ranks, notes = {}, [f"not ranked: {e}"]
    wide = data.wide_table(long, ranks)
    wide.insert(1, "open", [system_link(r) for r in wide["run"]])
    show_table(wide, f"leaderboard-{key}", f"wide:{key}", column_config={
        "open": st.column_config.LinkColumn("open", display_text="system page")})
    shared = [n for n in members[0].results.notes if all(n in m.results.notes for m in members)]
    st.caption("\n".join(f"- {n}" for n in shared + notes))  # e.g. LoCoMo's gold ceiling
    render_settings(members, key)
    with st.expander("every metric and stratum (long table)"):
        show_table(long, f"leaderboard-long-{key}", f"long:{key}")
    render_plots(long, key)


def render_settings(members: list[data.RunSummary], key: str) -> None:
    """The three-setting view when the table holds runs of two or more settings."""
    if len({r.setting for r in members}) < 2:
        return
    try:
        loaded = [data.CACHE.loaded(r.path) for r in members]
        for r, lr in zip(members, loaded):
            lr.label = r.label
        rows = data.CACHE.memo(("settings", tuple((str(r.path), r.fingerprint) for r in members)),
                               lambda: three_setting_view(loaded))
    except UserError as e:
        st.caption(f"no three-setting view: {e}")
        return
    st.subheader("Three-setting view (cross-setting, never ranked across settings)")
    show_table(pd.DataFrame([{"metric": r.metric, "setting": r.setting, "best run": r.run,
                              "mean": data.pct(r.mean),
                              "95% CI": "-" if not r.ci else
                              f"[{data.pct(r.ci[0])}, {data.pct(r.ci[1])}]",
                              "online minus this": data.pct(r.diff),
                              "95% CI of the difference": "-" if not r.diff_ci else
                              f"[{data.pct(r.diff_ci[0])}, {data.pct(r.diff_ci[1])}]"}
                             for r in rows]), f"settings-{key}", f"settings:{key}")
    st.caption("best run of each setting on each metric; the difference is paired on the same "
               "items (cluster bootstrap): what memory adds over parametric knowledge and over "
               "reading everything")


def render_plots(long: pd.DataFrame, key: str) -> None:
    overall = long[long["stratum key"] == "overall"]
    metrics = list(dict.fromkeys(overall["metric"]))
    stratified = [m for m in dict.fromkeys(long["metric"]) if plots.strata_keys(long, m)]
    left, right = st.columns(2)
    with left:
        if metrics:
            m = st.selectbox("plot metric", metrics, key=f"plot:{key}")
            st.image(plots.png(plots.metric_ci_figure(long, str(m))),
                     caption=f"{m}: mean with 95% CI per system")
    with right:
        if stratified:
            first = set(long[long["family"] == "correctness"]["metric"])
            default = next((i for i, m in enumerate(stratified) if m in first), 0)
            m2 = st.selectbox("by question type / category", stratified, index=default,
                              key=f"strata-metric:{key}")
            skeys = plots.strata_keys(long, str(m2))
            sk = st.selectbox("stratum", skeys, key=f"strata-key:{key}") if len(skeys) > 1 \
                else skeys[0]
            st.image(plots.png(plots.strata_figure(long, str(m2), str(sk))),
                     caption=f"{m2} by {sk} per system, 95% CI")
        else:
            st.caption("no per-question-type breakdown in these runs")
