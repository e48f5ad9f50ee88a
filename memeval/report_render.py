"""Rendering of `memeval report`: one document model, two outputs (self-contained HTML with
base64 PNG plots and inline CSS; Markdown), and the matplotlib plots (Agg, no pyplot state).

Every text that reaches a file passes through `memeval.redact.redact` here, at the last moment,
so no section can forget it. Images are not text and are left alone.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: reports are built on servers and in CI
from matplotlib.figure import Figure  # noqa: E402

from memeval.redact import redact  # noqa: E402


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    id: str | None = None


@dataclass
class Image:
    png: bytes
    alt: str


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)  # str (paragraph) | Table | Image | KV
    id: str | None = None


@dataclass
class KV:
    items: list[tuple[str, Any]]


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#1b1f23;padding:0 1em;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #d0d7de;
padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.6em 0}
dl.kv dt{font-weight:600}dl.kv dd{margin:0;word-break:break-word}
code,pre{background:#f6f8fa;padding:.1em .3em;border-radius:3px;font-size:.9em}
pre{padding:.6em;overflow-x:auto;white-space:pre-wrap}
img{max-width:100%;border:1px solid #d0d7de;margin:.5em 0}
.muted{color:#57606a;font-size:.9em}
"""


def _text(v: Any, secrets: list[str]) -> str:
    return str(redact("" if v is None else str(v), secrets))


def _is_num(v: Any) -> bool:
    s = str(v).strip().lstrip("-+[")
    return bool(s) and (s[0].isdigit() or s == "-")


def to_html(title: str, sections: Sequence[Section], secrets: list[str]) -> str:
    esc = (lambda v: html.escape(_text(v, secrets)))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{esc(title)}</h1>"]
    for sec in sections:
        sid = f' id="{esc(sec.id)}"' if sec.id else ""
        out.append(f"<section{sid}><h2>{esc(sec.title)}</h2>")
        for b in sec.blocks:
            if isinstance(b, Table):
                tid = f' id="{esc(b.id)}"' if b.id else ""
                out.append(f"<table{tid}><thead><tr>"
                           + "".join(f"<th>{esc(h)}</th>" for h in b.headers)
                           + "</tr></thead><tbody>")
                for row in b.rows:
                    out.append("<tr>" + "".join(
                        f'<td{" class=num" if _is_num(c) and i else ""}>{esc(c)}</td>'
                        for i, c in enumerate(row)) + "</tr>")
                out.append("</tbody></table>")
            elif isinstance(b, Image):
                data = base64.b64encode(b.png).decode("ascii")
                out.append(f'<img alt="{esc(b.alt)}" src="data:image/png;base64,{data}">')
            elif isinstance(b, KV):
                out.append('<dl class="kv">' + "".join(
                    f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in b.items) + "</dl>")
            elif isinstance(b, str) and b.startswith("$ "):
                out.append(f"<pre>{esc(b)}</pre>")
            else:
                out.append(f"<p>{esc(b)}</p>")
        out.append("</section>")
    out.append('<p class="muted">written by memeval report; self-contained: no external '
               "resources.</p></body></html>")
    return "\n".join(out) + "\n"


def _md_cell(v: str) -> str:
    return v.replace("|", "\\|").replace("\n", " ")


def to_markdown(title: str, sections: Sequence[Section], secrets: list[str]) -> str:
    t = (lambda v: _text(v, secrets))
    out = [f"# {t(title)}", ""]
    for sec in sections:
        out += [f"## {t(sec.title)}", ""]
        for b in sec.blocks:
            if isinstance(b, Table):
                out.append("| " + " | ".join(_md_cell(t(h)) for h in b.headers) + " |")
                out.append("|" + "---|" * len(b.headers))
                out += ["| " + " | ".join(_md_cell(t(c)) for c in row) + " |" for row in b.rows]
            elif isinstance(b, Image):
                out.append(f"*(plot: {t(b.alt)}; see report.html)*")
            elif isinstance(b, KV):
                out += [f"- **{t(k)}**: {t(v)}" for k, v in b.items]
            elif isinstance(b, str) and b.startswith("$ "):
                out += ["```", t(b), "```"]
            else:
                out.append(t(b))
            out.append("")
    return "\n".join(out)


# ---- plots ----------------------------------------------------------------------------------

def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return buf.getvalue()


def errorbar_panels(panels: list[tuple[str, list[str], list[float | None],
                                       list[tuple[float, float] | None]]],
                    ylabel: str, zero_line: bool = False) -> bytes:
    """One panel per (title, labels, values, CIs): points with CI error bars."""
    n = max(1, len(panels))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    for k, (title, labels, vals, cis) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        xs = list(range(len(labels)))
        for x, v, ci in zip(xs, vals, cis):
            if v is None:
                continue
            if ci is not None:
                err = [[max(0.0, v - ci[0])], [max(0.0, ci[1] - v)]]
                ax.errorbar([x], [v], yerr=err, fmt="o", capsize=4, color="#0969da")
            else:
                ax.plot([x], [v], "o", color="#8c959f")
        if zero_line:
            ax.axhline(0.0, color="#cf222e", linewidth=0.8, linestyle="--")
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.set_xlim(-0.6, len(labels) - 0.4)
    fig.tight_layout()
    return _png(fig)
