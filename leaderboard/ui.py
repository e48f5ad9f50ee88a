"""Streamlit helpers shared by the leaderboard's pages: tables that always come with a CSV
download, `memeval report` sections rendered as Streamlit elements, credential redaction, and a
guard that turns any error into an st.error line (never a traceback in the page)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from memeval.redact import env_secrets, redact
from memeval.errors import UserError
from memeval.leaderboard.data import csv_bytes
from memeval.report_render import KV, Image, Section, Table


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80] or "table"


def clean(obj: Any) -> Any:
    """Credentials masked (run folders are redacted when written; this is the second fence)."""
    return redact(obj, env_secrets())


def show_table(df: pd.DataFrame, name: str, key: str, **kw: Any) -> None:
    """st.dataframe plus a 'Download CSV' button for exactly that table."""
    df = clean_frame(df)
    st.dataframe(df, hide_index=True, **kw)
    st.download_button("Download CSV", data=csv_bytes(df), file_name=f"{slug(name)}.csv",
                       mime="text/csv", key=f"csv:{key}")


def clean_frame(df: pd.DataFrame) -> pd.DataFrame:
    secrets = env_secrets()
    if not secrets:
        return df
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: redact(v, secrets) if isinstance(v, str) else v)
    return out


def show_section(sec: Section, key: str) -> None:
    """A `memeval report` section: paragraphs, key-value lists and tables (with CSV), images."""
    for i, block in enumerate(sec.blocks):
        k = f"{key}:{i}"
        if isinstance(block, Table):
            df = pd.DataFrame([[("" if c is None else str(c)) for c in row] for row in block.rows],
                              columns=block.headers)
            show_table(df, f"{sec.title}-{block.id or i}", k)
        elif isinstance(block, KV):
            df = pd.DataFrame([[str(a), "" if b is None else str(b)] for a, b in block.items],
                              columns=["field", "value"])
            show_table(df, f"{sec.title}-{i}", k)
        elif isinstance(block, Image):
            st.image(block.png, caption=block.alt)
        elif isinstance(block, str) and block.startswith("$ "):
            st.code(clean(block[2:]), language="bash")
        else:
            st.markdown(clean(str(block)))


def guarded(render: Callable[..., None], *args: Any) -> None:
    """Run one page; a user error or any failure shows as one st.error line with its reason."""
    try:
        render(*args)
    except UserError as e:
        st.error(clean(str(e)))
    except Exception as e:  # noqa: BLE001 - the page must say why, never show a traceback
        st.error(clean(f"could not show this: {type(e).__name__}: {e}"))
