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
    """The keys here are really used: the server refuses requests without its key, so the run
    only works because memeval sent it (from MEMEVAL_LLM_API_KEY, or the URL's userinfo), and
    none of it may reach a file. OPENAI_API_KEY is set too: a URL endpoint must never send it."""
    env = {"MEMEVAL_LLM_API_KEY": mr.FAKE_ENV_KEY, "OPENAI_API_KEY": "sk-openai-" + "x" * 24}
    run, via_url = tmp_path / "secret-run", tmp_path / "url-run"
    args = ["--task", "locomo", "--data", str(mr.locomo_subset()), "--system", "no-memory",
            "--limit", "5"]
    with EmbeddedServer(api_key=mr.FAKE_ENV_KEY) as srv:
        plain = f"http://127.0.0.1:{srv.port}/v1::{MODEL_ALIAS}"
        refused = mr.memeval("run", *args, "--llm", plain, "--out", str(tmp_path / "no-key"),
                             "--retries", "0", check=False)
        assert refused.returncode == 2 and "401" in refused.stderr  # the key is needed
        mr.memeval("run", *args, "--llm", plain, "--out", str(run), env=env)
    with EmbeddedServer(api_key=mr.URL_SECRET) as srv:
        url = f"http://user:{mr.URL_SECRET}@127.0.0.1:{srv.port}/v1::{MODEL_ALIAS}"
        mr.memeval("run", *args, "--llm", url, "--out", str(via_url), env=env)
    for folder in (run, via_url):
        mr.memeval("report", str(folder), env=env)
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert {"report.html", "report.md", "manifest.json", "audit.jsonl",
                "predictions.jsonl"} <= {p.name for p in files}
        for p in files:
            data = p.read_bytes()
            for secret in (mr.FAKE_ENV_KEY, mr.URL_SECRET, env["OPENAI_API_KEY"],
                           "SECRET123456789"):
                assert secret.encode() not in data, f"{secret!r} leaked into {p}"
        # the endpoint is still identified (without its credentials), and the run really ran
        assert "127.0.0.1" in (folder / "report.html").read_text()
        assert len((folder / "predictions.jsonl").read_text().splitlines()) == 5
    assert "***@127.0.0.1" in (via_url / "manifest.json").read_text()


def test_report_of_a_missing_run_is_a_user_error(tmp_path: Path) -> None:
    res = mr.memeval("report", str(tmp_path / "nope"), check=False)
    assert res.returncode == 2 and "not a memeval run folder" in res.stderr
