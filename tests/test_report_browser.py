"""The HTML report of a real LoCoMo run, opened in headless Chromium (the Debian package, driven
by Playwright; no browser is ever downloaded): the metrics table and a plot really render."""

from __future__ import annotations

from pathlib import Path

import pytest

import memeval_runs as mr
from browser import chromium_page


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    mr.memeval("report", str(mr.bm25()), "--out", str(out))
    shot = tmp_path / "report.png"
    with chromium_page(1280, 900) as (page, requests):
        page.goto((out / "report.html").as_uri(), wait_until="load")
        page.screenshot(path=str(shot), full_page=True)
        table = page.locator("table#metrics")
        assert table.is_visible()
        assert table.locator("tbody tr").count() >= 2
        assert "f1_official" in table.inner_text()
        widths = page.evaluate("""() => Array.from(document.images)
            .filter(i => i.src.startsWith('data:image/png;base64,'))
            .map(i => i.complete ? i.naturalWidth : 0)""")
    assert widths and max(widths) > 0, widths
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    # nothing but the file itself and inline data was fetched
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
