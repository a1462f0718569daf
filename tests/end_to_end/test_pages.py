"""The campaign report and the live dashboard, in a real headless browser: the pages load
with nothing on the console, the report shows its charts with data and axis titles, the
dashboard's numbers move while a simulated campaign runs, and a disconnection reason made of
HTML shows on both as text, never as a link. Screenshots go to the test artifacts."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..browser import chromium, load
from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.slow
CHARTS = 7
HOSTILE = '<a href="https://evil.example">click</a>'
LIVE_LINK = re.compile(r'<a\b[^>]*href="https://evil')  # a link element, not its text
SHOWN_AS_TEXT = '&lt;a href="https://evil.example"&gt;click&lt;/a&gt;'


def _one_ended_call_says(store_file: Path, reason: str) -> None:
    """Give one ended call of the running campaign a hostile disconnection reason (as if
    Retell had sent it), once the campaign has one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(store_file, timeout=30) as conn:
            changed = conn.execute(
                "UPDATE attempts SET disconnection_reason = ? WHERE id = "
                "(SELECT id FROM attempts WHERE state = 'ended' LIMIT 1)",
                (reason,),
            ).rowcount
        if changed:
            return
        time.sleep(0.2)
    raise AssertionError("no call ended")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _done(dom: str) -> int:
    found = re.search(r'class="done">(\d+) / (\d+)<', dom)
    assert found, dom[-2000:]
    return int(found.group(1))


def test_the_dashboard_moves_and_the_report_shows_every_chart(tmp_path: Path) -> None:
    chromium()  # skips without a browser
    path = write_campaign(tmp_path, numbers(60), name="pages", cps=20, cap=6, max_attempts=1)
    url = f"sqlite+aiosqlite:///{tmp_path / 'pages.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    port = _free_port()
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialer",
            "run",
            str(path),
            "--simulate",
            "--speed",
            "40",
            "--http-port",
            str(port),
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "run.log").open("wb"),
    )
    try:
        dashboard = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        first = None
        while first is None and time.monotonic() < deadline:
            try:
                dom, console = load(dashboard, wait_ms=3000)
                first = _done(dom) if 'data-campaign="pages"' in dom else None
            except subprocess.CalledProcessError:
                time.sleep(0.5)
        assert first is not None, (tmp_path / "run.log").read_text()[-2000:]
        assert console == [], console
        _one_ended_call_says(tmp_path / "pages.db", HOSTILE)
        # the page refreshes itself as leads finish: the count moves on (and the hostile
        # reason shows), without a reload of ours
        deadline = time.monotonic() + 30
        while True:
            dom, console = load(dashboard, wait_ms=2500, screenshot="dashboard.png")
            if (_done(dom) > first and SHOWN_AS_TEXT in dom) or time.monotonic() > deadline:
                break
        assert console == [], console
        assert _done(dom) > first
        assert "+1212" not in dom  # counts only: no phone numbers
        assert SHOWN_AS_TEXT in dom and not LIVE_LINK.search(dom)  # a reason is text
        assert "create requests: placed " in dom  # apart from how calls ended
        assert "calls ended: " in dom
        assert run.wait(180) == 0, (tmp_path / "run.log").read_text()[-2000:]
    finally:
        if run.poll() is None:
            run.kill()

    page = tmp_path / "pages-report.html"
    made = subprocess.run(
        [sys.executable, "-m", "dialer", "report", "pages", "-o", str(page)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    dom, console = load(page.as_uri(), screenshot="report.png")
    assert console == [], console
    assert len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', dom)) == CHARTS
    assert dom.count('class="main-svg"') >= CHARTS  # drawn, not just declared
    assert "<script src=" not in page.read_text()  # nothing fetched: works offline
    # every chart has both axis titles, and a hostile reason shows as text, not as a link
    assert len(re.findall(r'<text class="xtitle"', dom)) == CHARTS
    assert len(re.findall(r'<text class="ytitle"', dom)) == CHARTS
    assert "connected (% of calls)" in dom and "call length (seconds)" in dom
    assert SHOWN_AS_TEXT in dom and not LIVE_LINK.search(dom)
