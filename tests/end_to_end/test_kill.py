"""Kill tests: `dialer run` as a real process, killed at random instants, then resumed.

The simulator runs in this process (on a thread) and keeps its own records of every call, so the
invariants are checked against what "Retell" saw, not against what dialer believes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select

from dialer.simulator import Faults, SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import attempts, leads

from ..helpers import check_invariants, numbers, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Dialed from a pool of caller IDs: a lead keeps its from-number across kills and resumes.
POOL = {"from_numbers": ["+14155550101", "+14155550102", "+14155550103"]}


def _start(path: Path, url: str, base_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_LEASE_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", str(path), "--no-progress", "--log-format", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


async def _final_state(url: str) -> tuple[list[dict[str, object]], list[str]]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            lead_rows = [dict(r._mapping) for r in await conn.execute(select(leads))]
            call_ids = [
                r.call_id for r in await conn.execute(select(attempts.c.call_id)) if r.call_id
            ]
        return lead_rows, call_ids
    finally:
        await store.close()


async def test_sigkill_at_random_instants_then_resume(store_url: str, tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("DIALER_KILL_SEED", "20271")))
    faults = Faults(create_ambiguous=0.03, create_5xx=0.03, read_5xx=0.03)
    engine = SimulatedRetell(
        speed=150, seed=rng.randrange(1 << 30), faults=faults, concurrency_limit=100
    )
    nums = numbers(60)
    path = write_campaign(
        tmp_path, nums, cps=15, cap=6, max_attempts=2, backoff="300ms", extra=POOL
    )
    log = tmp_path / "runs.log"
    with run_simulator_in_thread(engine) as server:
        kills = 0
        while kills < 5:
            proc = _start(path, store_url, server.url, log)
            await anyio.sleep(rng.uniform(0.8, 3.5))
            if proc.poll() is not None:
                break  # finished before we could kill it
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
        final = _start(path, store_url, server.url, log)
        deadline = time.monotonic() + 150
        while final.poll() is None and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        if final.poll() is None:
            final.kill()
        assert final.wait(10) == 0, log.read_text()[-3000:]
        records = engine.records()
    assert kills == 5
    check_invariants(records, max_attempts=2, cap=6, cps=15)
    lead_rows, call_ids = await _final_state(store_url)
    assert len(lead_rows) == len(nums)  # none lost
    assert {row["state"] for row in lead_rows} <= {"completed", "failed"}
    # every call Retell made is on exactly one attempt row
    assert sorted(call_ids) == sorted(c["call_id"] for c in records["calls"])
    # and each lead was called from one from-number, across kills and resumes
    callers: dict[str, set[str]] = {}
    for call in records["calls"]:
        callers.setdefault(call["to_number"], set()).add(call["from_number"])
    assert all(len(used) == 1 for used in callers.values())


async def test_sigterm_stops_cleanly_and_resumes(store_url: str, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=80, seed=11, concurrency_limit=100)
    nums = numbers(40)
    path = write_campaign(
        tmp_path, nums, cps=10, cap=6, max_attempts=2, backoff="300ms", extra=POOL
    )
    log = tmp_path / "runs.log"
    with run_simulator_in_thread(engine) as server:
        proc = _start(path, store_url, server.url, log)
        # stop it while it dials: a process starting on a cold machine may take seconds to place
        # its first call
        started = time.monotonic()
        while not engine.calls and time.monotonic() - started < 30:
            await anyio.sleep(0.05)
        await anyio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 143, log.read_text()[-3000:]
        placed_before = len(engine.calls)
        assert 0 < placed_before < 80
        final = _start(path, store_url, server.url, log)
        deadline = time.monotonic() + 150
        while final.poll() is None and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        assert final.wait(10) == 0, log.read_text()[-3000:]
        records = engine.records()
    check_invariants(records, max_attempts=2, cap=6, cps=10)
    lead_rows, _ = await _final_state(store_url)
    assert {row["state"] for row in lead_rows} <= {"completed", "failed"}
