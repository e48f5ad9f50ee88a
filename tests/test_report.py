"""`memeval report` and `memeval reproduce` on real runs: the files, self-containment, the
evaluation card, and secrets (env key, key in the endpoint URL) kept out of every file."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

import memeval_runs as mr
from memeval.server import MODEL_ALIAS, EmbeddedServer

pytestmark = pytest.mark.slow

URL_ATTR = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def test_report_html_is_self_contained_and_complete(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    mr.memeval("report", str(mr.bm25()), "--compare", str(mr.no_memory()), "--out", str(out))
    html = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert not URL_ATTR.search(html), URL_ATTR.search(html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    imgs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', html)
    assert len(imgs) >= 2  # metrics per category, paired differences
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs)
    for needle in ('id="metrics"', 'id="card"', 'id="compare"', "Evaluation card",
                   "memeval reproduce", "CC BY-NC 4.0", "sha256", "git commit", "Failures"):
        assert needle in html, needle
    # the card: refusal line from LoCoMo category 5, cost, judge, defects, setting
    for needle in ("refusal / boundary", "category 5 (adversarial)", "LLM calls",
                   "judge agreement", "known data defects", "online-retrieval", "seeds"):
        assert needle in md, needle
    assert "| f1_official | overall | all |" in md and "| f1_official | 5 adversarial |" in md
    # BM25 (online retrieval) against no-memory (parametric-only): the three-setting view
    assert "(cross-setting: online-retrieval vs parametric-only)" in md
    assert "## Three-setting view" in md and "| f1_official | parametric-only |" in md
    # the audit's gold ceiling beside the official numbers (this subset asks category 4)
    assert "| gold_ceiling |" in md and "gold ceiling (audit dial481/locomo-audit" in md


def test_no_secret_reaches_any_file(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": mr.FAKE_ENV_KEY}
    run = tmp_path / "secret-run"
    with EmbeddedServer() as srv:
        url = f"http://user:{mr.URL_SECRET}@127.0.0.1:{srv.port}/v1::{MODEL_ALIAS}"
        mr.memeval("run", "--task", "locomo", "--data", str(mr.locomo_subset()), "--system",
                   "no-memory", "--limit", "20", "--llm", url, "--out", str(run), env=env)
    mr.memeval("report", str(run), env=env)
    files = [p for p in run.rglob("*") if p.is_file()]
    assert {"report.html", "report.md", "manifest.json", "audit.jsonl",
            "predictions.jsonl"} <= {p.name for p in files}
    for p in files:
        data = p.read_bytes()
        for secret in (mr.FAKE_ENV_KEY, mr.URL_SECRET, "SECRET123456789"):
            assert secret.encode() not in data, f"{secret!r} leaked into {p}"
    # the endpoint is still identified (without its credentials), and the run really ran
    assert "127.0.0.1" in (run / "report.html").read_text()
    assert "***@127.0.0.1" in (run / "manifest.json").read_text()


def test_report_of_a_missing_run_is_a_user_error(tmp_path: Path) -> None:
    res = mr.memeval("report", str(tmp_path / "nope"), check=False)
    assert res.returncode == 2 and "not a memeval run folder" in res.stderr
