"""The system page: one run's manifest, evaluation card, metrics, cost and failures. The card,
cost and failure sections are `memeval report`'s own (memeval.report.build), cached per run
fingerprint; the run is named by ?run=PATH or typed in, and refused unless it lies below
RUNS_DIR."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from memeval import report
from memeval.errors import UserError
from memeval.leaderboard import data
from memeval.leaderboard.safety import PathRefused, relative_name, resolve_inside
from memeval.leaderboard.ui import clean, show_section, show_table, slug

SECTIONS = ("run", "card", "metrics-section", "task-notes", "plots", "failures-section",
            "cost-section")


def pick_run(scan: data.Scan, param: str, label: str, key: str,
             default: int = 0) -> Path | None:
    """The run named by query parameter `param` (validated), else the one chosen in the list
    or typed in; None (after an st.error) when the name is refused."""
    names = [r.name for r in scan.runs]
    given = st.query_params.get(param)
    if given and given not in names:
        try:
            path = resolve_inside(scan.root, given)
        except PathRefused as e:
            st.error(f"?{param}={given}: {e}")
            return None
        skipped = {s.name: s.reason for s in scan.skipped}
        name = relative_name(scan.root, path)
        if name not in names:
            st.error(f"?{param}={given}: run folder {name} is skipped: "
                     f"{skipped.get(name, 'not a finished run')}")
            return None
        given = name
    if not names:
        st.info(f"no run folder under {scan.root}")
        return None
    labels = scan.by_name()
    index = names.index(given) if given in names else min(default, len(names) - 1)
    chosen = st.selectbox(label, names, index=index, key=f"pick:{key}",
                          format_func=lambda n: f"{labels[n].task} · {labels[n].label} · {n}")
    typed = st.text_input(f"or type a run folder path below the runs folder ({label})",
                          key=f"type:{key}", placeholder="e.g. suite/locomo__rag-bm25__s0")
    if typed.strip():
        try:
            path = resolve_inside(scan.root, typed)
        except PathRefused as e:
            st.error(f"{typed}: {e}")
            return None
        if relative_name(scan.root, path) not in names:
            st.error(f"{typed}: not a finished run folder (see the skipped list)")
            return None
        chosen = relative_name(scan.root, path)
    st.query_params[param] = str(chosen)
    return scan.by_name()[str(chosen)].path


def render(scan: data.Scan) -> None:
    st.title("System")
    path = pick_run(scan, "run", "run", "system")
    if path is None:
        return
    run = scan.by_name()[relative_name(scan.root, path)]
    m = run.manifest
    st.subheader(f"{run.label} on {run.task}")
    st.caption(f"run {run.name} · status {m.status} · seed {m.seed} · setting {run.setting} · "
               f"answer model {run.answer_model} · judge {run.judge}")
    try:
        _, sections = data.CACHE.memo(("report", str(path), run.fingerprint),
                                      lambda: report.build(path))
    except UserError as e:  # e.g. no scores yet: the manifest and metrics still show
        st.error(f"evaluation card and report sections unavailable: {e}")
        sections = []
    by_id = {s.id: s for s in sections}
    for sid in SECTIONS:
        sec = by_id.get(sid)
        if sec is None:
            continue
        with st.expander(sec.title, expanded=sid in ("card", "cost-section",
                                                     "failures-section")):
            show_section(sec, f"{slug(run.name)}:{sid}")
    with st.expander("Metrics, every stratum", expanded=False):
        show_table(data.long_table([run]), f"metrics-{run.name}", f"sys-long:{run.name}")
    with st.expander("Manifest (manifest.json)", expanded=False):
        st.json(clean(m.model_dump(mode="json")), expanded=1)
