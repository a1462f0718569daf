"""One lifecycle: `dialer run` waits out a pause made from another terminal (and a run started
on a paused campaign waits too), carries on when resumed, and `dialer resume` says whether any
process serves the campaign. Real processes, on both stores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from dialer.simulator import SimulatedRetell, run_simulator_in_thread

from ..helpers import numbers, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 300.0


def _env(url: str, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_LEASE_SECONDS": "3",
    }


def _dialer(url: str, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        env=_env(url, base_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def _until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"waited {seconds:g} s for {what}")


async def test_a_run_waits_out_a_pause_and_carries_on_when_resumed(
    store_url: str, tmp_path: Path
) -> None:
    engine = SimulatedRetell(speed=SPEED, seed=8, concurrency_limit=1000)
    path = write_campaign(tmp_path, numbers(30), name="steady", cps=20 / SPEED, cap=4)
    log = tmp_path / "run.log"
    with run_simulator_in_thread(engine) as server:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dialer",
                "run",
                str(path),
                "--no-progress",
                "--speed",
                str(SPEED),
                "--log-format",
                "json",
            ],
            env=_env(store_url, server.url),
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        try:
            await _until(lambda: len(engine.calls) >= 3, 60, "the first calls")
            paused = _dialer(store_url, server.url, "pause", "steady")
            assert paused.returncode == 0, paused.stderr
            await _until(
                lambda: "campaign_paused_waiting" in log.read_text(), 30, "the run to say it waits"
            )
            assert "dialer resume steady" in log.read_text()
            settled = len(engine.calls)
            await anyio.sleep(
                2.0
            )  # the run stays, and dials nothing new (a call may have been sent at the pause)
            assert run.poll() is None, log.read_text()[-3000:]
            assert len(engine.calls) <= settled + 1
            resumed = _dialer(store_url, server.url, "resume", "steady")
            assert resumed.returncode == 0, resumed.stderr
            assert "served by 1 `dialer run`" in resumed.stdout, resumed.stdout
            before = len(engine.calls)
            await _until(
                lambda: len(engine.calls) > before + 2, 60, "dialing again after the resume"
            )
            assert run.wait(120) == 0, log.read_text()[-3000:]
        finally:
            if run.poll() is None:
                run.kill()
    assert {c.to_number for c in engine.calls.values()} == set(numbers(30))
    # nobody serves it any more: resume says so
    again = _dialer(store_url, server.url, "resume", "steady")
    assert "no process is serving it now" in again.stdout, again.stdout


async def test_a_run_started_on_a_paused_campaign_waits_for_the_resume(
    store_url: str, tmp_path: Path
) -> None:
    engine = SimulatedRetell(speed=SPEED, seed=9, concurrency_limit=1000)
    path = write_campaign(tmp_path, numbers(5), name="held", cps=50 / SPEED, cap=4)
    with run_simulator_in_thread(engine) as server:
        loaded = _dialer(store_url, server.url, "load", str(path))
        assert loaded.returncode == 0, loaded.stderr
        assert "5 added" in loaded.stdout
        assert _dialer(store_url, server.url, "pause", "held").returncode == 0
        log = tmp_path / "run.log"
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dialer",
                "run",
                str(path),
                "--no-progress",
                "--speed",
                str(SPEED),
                "--log-format",
                "json",
            ],
            env=_env(store_url, server.url),
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        try:
            await _until(
                lambda: "campaign_paused_waiting" in log.read_text(), 30, "the run to wait"
            )
            assert not engine.calls and run.poll() is None
            # --exit-on-pause keeps the old way for scripts: a paused campaign ends the run
            ended = _dialer(
                store_url, server.url, "run", str(path), "--no-progress", "--exit-on-pause"
            )
            assert ended.returncode == 1, ended.stderr
            assert "`dialer resume held` to continue" in ended.stderr
            assert _dialer(store_url, server.url, "resume", "held").returncode == 0
            assert run.wait(120) == 0, log.read_text()[-3000:]
        finally:
            if run.poll() is None:
                run.kill()
    assert {c.to_number for c in engine.calls.values()} == set(numbers(5))
