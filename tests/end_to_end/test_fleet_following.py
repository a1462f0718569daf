"""Following once per fleet, with real processes on one Postgres: three `dialer worker`s dial
one campaign against the simulator; between them they ask Retell which calls ended about once
per tick (not once per worker), and when the worker holding the following lease is SIGKILLed
mid-campaign another takes the lease over, every call is followed to its end, every lead
finishes and nobody is dialed twice.

Every figure is checked against the simulator's own records (it runs on a thread here); the
lease's holder is read from the store."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select

from dialer.domain.following import lease_period
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import attempts, following_leases, leads

from ..helpers import check_invariants, numbers, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 100.0
TICK = max(0.05, 0.25 / SPEED)  # the follower's tick in real seconds (RunOptions.scaled)


def _env(url: str, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_LEASE_SECONDS": "2",
    }


async def _holder(url: str) -> str | None:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            return await conn.scalar(select(following_leases.c.holder))
    finally:
        await store.close()


async def _lead_states(url: str) -> list[str]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            return [str(r.state) for r in await conn.execute(select(leads.c.state))]
    finally:
        await store.close()


async def _call_ids(url: str) -> list[str]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            return [r.call_id for r in await conn.execute(select(attempts.c.call_id)) if r.call_id]
    finally:
        await store.close()


def _asks_per_tick(times: list[float], start: float, end: float) -> float:
    asked = [t for t in times if start <= t <= end]
    return len(asked) / max(1.0, (end - start) / TICK)


async def test_three_workers_follow_once_and_survive_the_holders_sigkill(
    store_url: str, tmp_path: Path
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a fleet of processes shares one Postgres")
    cps, cap = 60, 24
    engine = SimulatedRetell(speed=SPEED, seed=29, concurrency_limit=1000, call_seconds=(8, 16))
    nums = numbers(240)
    path = write_campaign(tmp_path, nums, name="follow", cps=cps / SPEED, cap=cap, max_attempts=1)
    store = await open_store(store_url)
    try:
        await import_campaign(store, read_campaign_file(path))
    finally:
        await store.close()
    logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
    with run_simulator_in_thread(engine) as server:
        workers = {
            proc.pid: proc
            for proc in (
                subprocess.Popen(
                    [sys.executable, "-m", "dialer", "worker", "--speed", str(SPEED)],
                    env=_env(store_url, server.url),
                    stdout=subprocess.DEVNULL,
                    stderr=log.open("ab"),
                )
                for log in logs
            )
        }
        # until all three dial (a loaded machine starts processes slowly)
        deadline = time.monotonic() + 60  # a bound on a loaded machine, not a wait
        while len(engine.calls) < 40:
            assert time.monotonic() < deadline, logs[0].read_text()[-3000:]
            await anyio.sleep(0.1)
        await anyio.sleep(0.5)
        before_kill = time.monotonic()
        holder = await _holder(store_url)
        assert holder is not None
        killed = workers.pop(int(holder.split(":")[1]))
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert await _lead_states(store_url) != ["completed"] * len(nums), "make it bigger"

        deadline = time.monotonic() + 120
        while set(await _lead_states(store_url)) - {"completed", "failed"}:
            assert time.monotonic() < deadline, logs[1].read_text()[-3000:]
            await anyio.sleep(0.25)
        heir = await _holder(store_url)
        for proc in workers.values():
            proc.send_signal(signal.SIGTERM)
        for proc in workers.values():
            proc.wait(15)
        records = engine.records()

    assert heir is not None and heir != holder  # the lease changed hands
    check_invariants(records, max_attempts=1, cap=cap, cps=cps)
    assert sorted(await _call_ids(store_url)) == sorted(c["call_id"] for c in records["calls"])
    assert len(records["calls"]) == len(nums)  # each lead called once, followed to its end
    asks = sorted(records["end_ask_times"])
    first_create = min(c["at"] for c in records["creates"])
    last_end = max(c["terminal_at"] for c in records["calls"])
    # three workers, yet about one "which ended?" a tick between them (each alone: three)
    per_tick = _asks_per_tick(asks, first_create, before_kill)
    after = _asks_per_tick(asks, before_kill, last_end)
    assert per_tick < 1.6 and after < 1.6, (per_tick, after)
    gap = max(b - a for a, b in itertools.pairwise(asks) if a >= before_kill - 1)
    print(
        f"asks a tick: {per_tick:.2f} before the kill, {after:.2f} after; longest pause in "
        f"following around the kill: {gap:.2f} s (lease {lease_period(TICK):.2f} s)"
    )
