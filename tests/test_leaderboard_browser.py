"""`memeval leaderboard` end to end: the real command serves the app on a free local port, and
headless Chromium (the Debian package, driven by Playwright; no browser is ever downloaded)
shows the systems with their CI columns and the compare page's outcome quadrants."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import leaderboard_runs as lr
from browser import chromium_page

QUADRANTS = ("both right", "A only", "B only", "both wrong")


def _healthy(url: str) -> bool:
    """Streamlit's health endpoint answers "ok"; False while the server is not listening yet."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(llm_spec: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = lr.runs_root(llm_spec)
    port = free_port()
    log = (tmp_path / "leaderboard.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "memeval", "leaderboard", str(root),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            cwd=lr.REPO, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("memeval leaderboard did not come up:\n" +
                            (tmp_path / "leaderboard.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url, root
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@pytest.mark.slow
def test_leaderboard_and_compare_page_in_headless_chromium(served: tuple[str, Path],
                                                           tmp_path: Path) -> None:
    url, root = served
    pristine = lr.snapshot(root)
    a, b = "locomo/bm25", "locomo/no-memory"
    with chromium_page(1900, 1200) as (page, requests):
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("[role='gridcell']", state="attached", timeout=120_000)
        # each task's table is followed by its three-setting view (both groups span two
        # settings): the second such heading means both tables have rendered
        page.get_by_text("Three-setting view").nth(1).wait_for(timeout=120_000)
        headers: list[str] = []
        cells: list[str] = []
        grids = page.locator("[data-testid='stDataFrame']")
        for i in range(grids.count()):  # the grid renders its cells once on screen
            grid = grids.nth(i)
            if not grid.is_visible():
                continue  # inside a collapsed expander
            grid.scroll_into_view_if_needed()
            grid.locator("[role='gridcell']").first.wait_for(state="attached")
            headers += grid.locator("[role='columnheader']").all_text_contents()
            cells += grid.locator("[role='gridcell']").all_text_contents()
        page.evaluate("window.scrollTo(0, 0)")
        board_shot = tmp_path / "leaderboard.png"
        page.screenshot(path=str(board_shot), full_page=True)

        page.goto(f"{url}/?page=compare&a={a}&b={b}", wait_until="domcontentloaded")
        page.wait_for_selector("[data-testid='stMetric']", timeout=120_000)
        page.wait_for_timeout(1000)
        metrics = page.locator("[data-testid='stMetric']").all_inner_texts()
        rule = page.get_by_text(re.compile(r"^Outcomes on \S+:")).first.inner_text()
        metric_name = re.match(r"Outcomes on (\S+):", rule).group(1)  # type: ignore[union-attr]
        compare_shot = tmp_path / "compare.png"
        page.screenshot(path=str(compare_shot), full_page=True)

    # the table lists every system with its CI columns
    for run in ("synth/oracle", "synth/rag-bm25", "synth/no-memory", a, b):
        system = lr.manifest(root, run)["system"]["name"]
        assert any(c == system or c.startswith(system + ":") for c in cells), (system, cells)
    firsts = [next(iter(lr.metrics(root, run)["metrics"])) for run in (a, "synth/oracle")]
    for first_metric in firsts:  # each table's first metric column, in declaration order
        assert f"{first_metric} 95% CI" in headers and f"{first_metric} n (clusters)" in headers
    bm25_ci = lr.headline_ci(lr.metrics(root, a)["metrics"][firsts[0]]["overall"]["all"])
    assert f"[{100 * bm25_ci[0]:.2f}, {100 * bm25_ci[1]:.2f}]" in cells

    # the compare page shows the four quadrants, with the counts scores.jsonl gives
    shown = {}
    for text in metrics:
        label, _, value = text.partition("\n")
        shown[label.strip()] = int(value.strip())
    want = lr.expected_quadrants(root, a, b, metric_name, 0.5)
    assert shown == {q: len(want[q]) for q in QUADRANTS}, (metric_name, metrics)

    for shot in (board_shot, compare_shot):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    # the page loads nothing from anywhere but the local server
    assert all(u.startswith((url, "data:", "blob:")) for u in requests), \
        [u for u in requests if not u.startswith((url, "data:", "blob:"))]
    assert lr.snapshot(root) == pristine  # serving it wrote nothing into RUNS_DIR
