"""A real headless browser for the tests (Debian's chromium): a page's DOM after its scripts
ran, what it logged to its console, and a screenshot kept among the test artifacts
(DIALER_TEST_ARTIFACTS, default .artifacts/ in the checkout; not committed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("DIALER_TEST_ARTIFACTS", Path(__file__).parents[1] / ".artifacts"))
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
_CONSOLE = re.compile(r"CONSOLE[:(]\d+\)?\]? (.*)")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


def load(url: str, *, wait_ms: int = 6000, screenshot: str | None = None) -> tuple[str, list[str]]:
    """(the DOM once the page's scripts ran for `wait_ms`, its console messages)."""
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile:
        common = [
            browser,
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={wait_ms}",
        ]
        shown = subprocess.run(
            [*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
        )
        if screenshot is not None:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [*common, "--window-size=1300,1800", f"--screenshot={ARTIFACTS / screenshot}", url],
                capture_output=True,
                timeout=120,
                check=True,
            )
    console = [m.group(1) for m in map(_CONSOLE.search, shown.stderr.splitlines()) if m]
    return shown.stdout, console
