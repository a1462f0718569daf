"""A fleet on one Postgres: `dialer run` and `dialer worker` processes sharing campaigns, a
worker SIGKILLed mid-run, campaign control against running workers, metrics and health.

Every figure is checked against the simulator's own records (it runs on a thread here).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import select

from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.simulator import Faults, SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import attempts, leads

from ..helpers import check_invariants, numbers, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 300.0  # the simulator's clock; every process is told, so polling keeps up with it


def _postgres_only(store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a fleet of processes shares one Postgres")


def _env(url: str, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_LEASE_SECONDS": "2",
    }


def _worker(url: str, base_url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "worker", "--speed", str(SPEED), *extra],
        env=_env(url, base_url),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _dialer(url: str, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        env=_env(url, base_url),
        capture_output=True,
        text=True,
        check=False,
    )


async def _rows(url: str) -> tuple[list[dict[str, object]], list[str]]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            lead_rows = [dict(r._mapping) for r in await conn.execute(select(leads))]
            call_ids = [r.call_id for r in await conn.execute(select(attempts)) if r.call_id]
        return lead_rows, call_ids
    finally:
        await store.close()


async def _wait_exit(proc: subprocess.Popen[bytes], seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    return proc.poll()


async def test_run_and_two_workers_share_a_campaign_and_survive_a_sigkill(
    store_url: str, tmp_path: Path
) -> None:
    _postgres_only(store_url)
    cps, cap = 60, 24
    faults = Faults(create_ambiguous=0.02, create_5xx=0.02, read_5xx=0.02)
    engine = SimulatedRetell(speed=SPEED, seed=17, faults=faults, concurrency_limit=1000)
    nums = numbers(1000)
    path = write_campaign(
        tmp_path, nums, name="fleet", cps=cps / SPEED, cap=cap, max_attempts=2, backoff="60s"
    )
    log, logs = tmp_path / "run.log", [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    with run_simulator_in_thread(engine) as server:
        env = _env(store_url, server.url)
        command = [sys.executable, "-m", "dialer", "run", str(path), "--no-progress"]
        run = subprocess.Popen(
            [*command, "--speed", str(SPEED), "--log-format", "json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        first, second = (_worker(store_url, server.url, w) for w in logs)
        # kill the first worker once it is dialing (a loaded machine starts processes slowly)
        started = time.monotonic()
        while time.monotonic() - started < 60 and not (
            time.monotonic() - started >= 6.0 and '"call_placed"' in logs[0].read_text()
        ):
            await anyio.sleep(0.2)
        assert run.poll() is None, "the campaign finished before the kill; make it bigger"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert await _wait_exit(run, 150) == 0, log.read_text()[-3000:]
        second.send_signal(signal.SIGTERM)
        assert await _wait_exit(second, 10) in (0, 143), logs[1].read_text()[-3000:]
        records = engine.records()
    check_invariants(records, max_attempts=2, cap=cap, cps=cps)
    lead_rows, call_ids = await _rows(store_url)
    assert len(lead_rows) == len(nums)
    assert {row["state"] for row in lead_rows} <= {"completed", "failed"}
    assert sorted(call_ids) == sorted(c["call_id"] for c in records["calls"])
    # the work really was shared: each of the three processes placed calls
    for each in (log, *logs):
        placed = [e for e in _events(each) if e.get("event") == "call_placed"]
        assert placed, f"{each.name} placed no call"


def _events(log: Path) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_pause_resume_cancel_reach_running_workers(store_url: str, tmp_path: Path) -> None:
    _postgres_only(store_url)
    engine = SimulatedRetell(speed=SPEED / 3, seed=23, concurrency_limit=1000)  # ~1 s calls
    nums = numbers(600)
    path = write_campaign(tmp_path, nums, name="steer", cps=15 / (SPEED / 3), cap=8)
    store = await open_store(store_url)
    try:
        await import_campaign(store, read_campaign_file(path))
    finally:
        await store.close()
    log = tmp_path / "steer.log"
    port = _free_port()
    with run_simulator_in_thread(engine) as server:
        extra = ("--speed", str(SPEED / 3))

        def start_worker(*more: str) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "dialer", "worker", *extra, *more],
                env=_env(store_url, server.url),
                stdout=subprocess.DEVNULL,
                stderr=log.open("ab"),
            )

        # The worker serving metrics starts alone, so the calls counted are surely its own (a
        # worker that finds every slot taken waits a second, and the one whose calls end takes
        # the freed slots first).
        workers = [start_worker("--metrics-port", str(port))]

        async def creates_after(instant: float) -> int:
            return sum(1 for c in engine.records()["creates"] if c["at"] > instant)

        deadline = time.monotonic() + 30
        while len(engine.calls) < 20 and time.monotonic() < deadline:
            await anyio.sleep(0.1)
        assert len(engine.calls) >= 20, log.read_text()[-3000:]

        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["store"] == "ok"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'dialer_create_call_outcomes_total{campaign="steer",outcome="placed"}' in metrics
        assert "dialer_api_request_seconds_bucket" in metrics
        assert "dialer_store_up 1.0" in metrics and "process_cpu_seconds_total" in metrics
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["retell"] == "ok", ready.text
        workers.append(start_worker())

        async def logged(event: str, count: int) -> None:
            """Until the workers' log holds `count` lines of `event` (each is one worker's)."""
            deadline = time.monotonic() + 60  # a bound on a loaded machine, not a wait
            while log.read_text().count(f'"{event}"') < count:
                assert time.monotonic() < deadline, f"{event}: {log.read_text()[-3000:]}"
                await anyio.sleep(0.1)

        await logged("campaign_serving", 2)  # both workers serve the campaign

        released = log.read_text().count('"campaign_released"')
        paused = _dialer(store_url, server.url, "pause", "steer")
        assert paused.returncode == 0, paused.stderr
        paused_at = time.monotonic()
        await logged("campaign_released", released + 2)  # each worker let the campaign go
        assert await creates_after(paused_at + 1.0) == 0  # no new dial a second after pausing

        serving = log.read_text().count('"campaign_serving"')
        resumed = _dialer(store_url, server.url, "resume", "steer")
        assert resumed.returncode == 0, resumed.stderr
        assert "served by 2 `dialer worker`" in resumed.stdout, resumed.stdout
        resumed_at = time.monotonic()
        deadline = resumed_at + 10
        while await creates_after(resumed_at) == 0 and time.monotonic() < deadline:
            await anyio.sleep(0.1)
        assert await creates_after(resumed_at) > 0  # dialing again within seconds
        await logged("campaign_serving", serving + 2)  # both workers serve it again

        released = log.read_text().count('"campaign_released"')
        cancelled = _dialer(store_url, server.url, "cancel", "steer")
        assert cancelled.returncode == 0, cancelled.stderr
        cancelled_at = time.monotonic()
        await logged("campaign_released", released + 2)  # live calls ended and were recorded
        assert await creates_after(cancelled_at + 1.0) == 0

        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            assert await _wait_exit(proc, 10) in (0, 143), log.read_text()[-3000:]
        records = engine.records()
    check_invariants(records, max_attempts=3, cap=8)
    lead_rows, call_ids = await _rows(store_url)
    states = {row["state"] for row in lead_rows}
    assert states <= {"completed", "failed", "skipped"}, states
    skipped = [row for row in lead_rows if row["state"] == "skipped"]
    assert skipped and all(row["skip_reason"] == "campaign cancelled" for row in skipped)
    assert sorted(call_ids) == sorted(c["call_id"] for c in records["calls"])
