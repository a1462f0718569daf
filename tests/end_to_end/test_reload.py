"""Reloading an edited list while a fleet dials it (the README's production flow): loads and
claims take the campaign's lock in one order, and a deadlock or serialization failure is run
again, never fatal. Every figure is checked against the simulator's own records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select

from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import leads

from ..helpers import check_invariants, numbers, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 300.0


def _env(url: str, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_LEASE_SECONDS": "2",
    }


def _start(url: str, base_url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", *args, "--speed", str(SPEED)],
        env=_env(url, base_url),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _edit(leads_csv: Path, version: int, total: int) -> None:
    """Every row's variables change (a CRM export run again), and ten rows are new."""
    rows = numbers(total + 10 * version)
    leads_csv.write_text(
        "to_number,first_name\n" + "".join(f"{n},Lead{i}-v{version}\n" for i, n in enumerate(rows))
    )


async def _wait(proc: subprocess.Popen[bytes], seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    return proc.poll()


async def test_reloading_an_edited_list_four_times_while_two_workers_dial_it(
    store_url: str, tmp_path: Path
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a fleet of processes shares one Postgres")
    cap, cps, total = 24, 60, 300
    engine = SimulatedRetell(speed=SPEED, seed=5, concurrency_limit=1000)
    path = write_campaign(
        tmp_path,
        numbers(total),
        name="reload",
        cps=cps / SPEED,
        cap=cap,
        max_attempts=2,
        backoff="30s",
    )
    leads_csv = tmp_path / "reload-leads.csv"
    logs = [tmp_path / f"p{i}.log" for i in range(7)]
    with run_simulator_in_thread(engine) as server:
        runs = [_start(store_url, server.url, logs[0], "run", str(path), "--no-progress")]
        while not engine.calls:  # the first run loaded the campaign and dials
            await anyio.sleep(0.05)
        workers = [_start(store_url, server.url, logs[i], "worker") for i in (1, 2)]
        for version in range(1, 5):
            await anyio.sleep(0.6)
            _edit(leads_csv, version, total)
            runs.append(
                _start(store_url, server.url, logs[2 + version], "run", str(path), "--no-progress")
            )
        for i, run in enumerate(runs):
            code = await _wait(run, 120)
            log = logs[0 if i == 0 else 2 + i]
            assert code == 0, f"run {i} exited {code}: {log.read_text()[-3000:]}"
        for i, worker in enumerate(workers, start=1):
            assert worker.poll() is None, f"worker {i} died: {logs[i].read_text()[-3000:]}"
            worker.send_signal(signal.SIGTERM)
            assert await _wait(worker, 15) in (0, 143), logs[i].read_text()[-3000:]
        records = engine.records()
    for log in logs:
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]
    check_invariants(records, max_attempts=2, cap=cap)
    store = await open_store(store_url)
    try:
        async with store.engine.connect() as conn:
            rows = list(await conn.execute(select(leads.c.to_number, leads.c.state)))
    finally:
        await store.close()
    assert len(rows) == total + 40
    assert {r.state for r in rows} <= {"completed", "failed"}
    dialed = {c["to_number"] for c in records["calls"]}
    assert dialed == {r.to_number for r in rows}  # every lead, the added ones too
