"""The dashboard's controls in headless chromium (Debian's, driven by playwright): `dialer
serve` shows each campaign with pause, resume and cancel; the first click asks for an API
token, once; pause shows as paused within 2 s, resume as active, cancel (confirmed) as
cancelled; a read-only token is told so; nothing on the console. A screenshot goes to the test
artifacts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..browser import ARTIFACTS, chromium
from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dialer(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_pause_resume_and_cancel_from_the_dashboard(tmp_path: Path) -> None:
    browser_path = chromium()  # skips without a browser
    sync_api = pytest.importorskip("playwright.sync_api")
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"}
    env.pop("DIALER_HTTP_TOKEN", None)
    _dialer(env, "load", str(write_campaign(tmp_path, numbers(20), name="spring")))
    writer = _dialer(env, "token", "create", "ops")
    reader = _dialer(env, "token", "create", "viewer", "--read-only")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dialer", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("wb"),
    )
    console: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=browser_path, args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"error: {error}"))
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.locator('section[data-campaign="spring"]')
            title = box.locator("h2")
            sync_api.expect(title).to_contain_text("· active", timeout=10_000)

            # the first click asks for a token; a read-only one is told it may only read
            box.locator("button.pause").click()
            sync_api.expect(page.locator("#token-form")).to_be_visible()
            page.fill("#token", reader)
            page.click("#token-form button")
            sync_api.expect(box.locator(".said")).to_contain_text("read-only", timeout=2_000)
            sync_api.expect(title).to_contain_text("· active")

            page.evaluate("sessionStorage.clear()")  # another token: asked for once more
            box.locator("button.pause").click()
            page.fill("#token", writer)
            page.click("#token-form button")
            sync_api.expect(title).to_contain_text("· paused", timeout=2_000)
            sync_api.expect(page.locator("#token-form")).to_be_hidden()

            box.locator("button.resume").click()  # the token is kept: not asked again
            sync_api.expect(title).to_contain_text("· active", timeout=2_000)
            box.locator("button.cancel").click()  # confirmed in the dialog
            sync_api.expect(title).to_contain_text("· cancelled", timeout=2_000)
            sync_api.expect(box.locator("button.resume")).to_be_disabled()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard-controls.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    # the read-only token's refusal is the one thing the browser reports (as it reports any
    # 4xx answer to a fetch); nothing else is on the console
    refused = (
        "error: Failed to load resource: the server responded with a status of 403 (Forbidden)"
    )
    assert console == [refused], console
    status = _dialer(env, "status", "spring", "--json")
    assert '"status": "cancelled"' in status
    log = (tmp_path / "serve.log").read_text()
    assert writer not in log and reader not in log  # tokens never logged
