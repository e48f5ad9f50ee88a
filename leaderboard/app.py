"""memeval leaderboard: a Streamlit app over the run folders below RUNS_DIR, read-only.

    memeval leaderboard RUNS_DIR [--port P]
    (= streamlit run <this file> -- RUNS_DIR, with MEMEVAL_LEADERBOARD_RUNS=RUNS_DIR)

Pages (sidebar, or ?page=...): leaderboard (one table per suite and task: systems x metrics with
CIs, n/clusters and ranks; plots), system (?run=PATH: manifest, evaluation card, cost,
failures), compare (?a=PATH&b=PATH: paired tests and per-sample outcome quadrants). PATH is a
run folder below RUNS_DIR; anything else is refused."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from memeval.errors import UserError
from memeval.leaderboard import board, compare_page, data, system_page
from memeval.leaderboard.ranking import CORRECTIONS
from memeval.leaderboard.safety import root_of
from memeval.leaderboard.ui import guarded

ENV = "MEMEVAL_LEADERBOARD_RUNS"
PAGES = {"leaderboard": "Leaderboard", "system": "System", "compare": "Compare two systems"}


def runs_dir() -> str | None:
    """RUNS_DIR from `streamlit run app.py -- RUNS_DIR`, else from $MEMEVAL_LEADERBOARD_RUNS.
    Never from the page: query parameters only name runs below it."""
    if len(sys.argv) > 1 and Path(sys.argv[0]).resolve() == Path(__file__).resolve():
        return sys.argv[1]
    return os.environ.get(ENV)


def page_choice() -> str:
    keys = list(PAGES)
    want = st.query_params.get("page", "leaderboard")
    if want not in PAGES:
        st.error(f"unknown page {want!r} in the address; pages: {', '.join(keys)}")
        want = "leaderboard"
    page = st.sidebar.radio("Page", keys, index=keys.index(want), format_func=PAGES.get,
                            key="page")
    st.query_params["page"] = page
    return str(page)


def filters(scan: data.Scan) -> dict[str, object]:
    sb = st.sidebar
    sb.header("Filters")
    sb.caption("Filters apply to the leaderboard tables and plots.")
    opts = data.options(scan.runs)
    chosen: dict[str, object] = {}
    for key in ("task", "metric family", "setting", "judge", "answer model"):
        chosen[key] = sb.multiselect(key, opts[key], default=[], key=f"f:{key}",
                                     placeholder="all")
    if len(opts["convention"]) > 1:  # namings the tasks declare (e.g. LoCoMo's data / mem0)
        chosen["convention"] = sb.radio(
            "stratum naming", opts["convention"], key="f:convention", horizontal=True,
            help="names of the strata, as the runs' tasks declare them (LoCoMo categories: "
                 "the data's official numbering, or the Mem0 paper's)")
    chosen["correction"] = sb.selectbox("rank correction", list(CORRECTIONS), key="f:correction",
                                        help="multiple-comparison correction of the paired "
                                             "tests behind the rank column")
    return chosen


def main() -> None:
    st.set_page_config(page_title="memeval leaderboard", layout="wide")
    given = runs_dir()
    if not given:
        st.error(f"no runs folder: start with `memeval leaderboard RUNS_DIR` (or set {ENV})")
        return
    try:
        root = root_of(given)
    except UserError as e:
        st.error(str(e))
        return
    page = page_choice()
    scan = data.scan(root)
    chosen = filters(scan)
    st.sidebar.caption(f"runs folder: `{root}` - {len(scan.runs)} run(s), "
                       f"{len(scan.skipped)} skipped; read-only")
    if page == "leaderboard":
        guarded(board.render, scan, chosen)
    elif page == "system":
        guarded(system_page.render, scan)
    else:
        guarded(compare_page.render, scan, str(chosen["correction"]))


main()
