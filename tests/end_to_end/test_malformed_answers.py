"""Answers from Retell that do not have the API's shape never crash a run: `dialer run` as a
real process against a simulator whose reads are sometimes malformed (an HTML page, truncated
JSON, a list, a call without its status or with an unknown one) and whose creates sometimes
answer 2xx without a call id."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import select

from dialer.simulator import Faults, SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import attempts, leads

from ..helpers import answers, check_invariants, numbers, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_a_run_rides_out_malformed_answers(store_url: str, tmp_path: Path) -> None:
    faults = Faults(read_malformed=0.05, create_no_id=0.04)
    engine = SimulatedRetell(speed=200, faults=faults, seed=13, concurrency_limit=100)
    nums = numbers(120)
    path = write_campaign(tmp_path, nums, cps=40, cap=8, max_attempts=2)
    log = tmp_path / "run.log"
    with run_simulator_in_thread(engine) as server:
        env = {
            **os.environ,
            "DATABASE_URL": store_url,
            "RETELL_BASE_URL": server.url,
            "RETELL_API_KEY": "sim-key",
        }
        command = [sys.executable, "-m", "dialer", "run", str(path), "--speed", "200"]
        done = await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                [*command, "--no-progress", "--log-format", "json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log.open("wb"),
                timeout=180,
                check=False,
            )
        )
        records = engine.records()
    text = log.read_text()
    assert done.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    # the faults were met (by a list-calls tick or a call's own read), and survived
    assert "call_read_malformed" in text or "list_calls_failed" in text
    assert answers(records)["201-without-id"] > 0
    check_invariants(records, max_attempts=2, cap=8, cps=40)
    store = await open_store(store_url)
    try:
        async with store.engine.connect() as conn:
            states = [r.state for r in await conn.execute(select(leads.c.state))]
            recorded = [r.call_id for r in await conn.execute(select(attempts.c.call_id))]
    finally:
        await store.close()
    assert len(states) == 120 and set(states) <= {"completed", "failed"}
    # every call the simulator made is recorded on exactly one attempt: none was dialed twice
    assert sorted(c for c in recorded if c) == sorted(c["call_id"] for c in records["calls"])
