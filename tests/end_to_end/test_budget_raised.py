"""The README's budget procedure, with real processes on both stores: `dialer run` pauses at
`budget_usd` and waits; `dialer load` of the same file with a higher budget, then
`dialer resume`, and the same run picks the new budget up, carries on and finishes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from dialer.app.run import load_campaign
from dialer.operations.steering import resume
from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store

from ..helpers import numbers, write_campaign
from .test_lifecycle import _env, _until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 300.0
LEADS = 20
_FLAGS = ("--speed", str(SPEED), "--log-format", "json")


def _campaign(tmp_path: Path, budget: float) -> Path:
    return write_campaign(
        tmp_path,
        numbers(LEADS),
        name="budget1",
        cps=20 / SPEED,
        cap=2,
        max_attempts=1,
        extra={"budget_usd": budget, "cost_per_minute": 0.07},  # the simulator's price
    )


async def test_a_budget_raised_by_load_and_resume_lets_the_waiting_run_finish(
    store_url: str, tmp_path: Path
) -> None:
    engine = SimulatedRetell(speed=SPEED, seed=31, concurrency_limit=1000, call_seconds=(60, 90))
    path = _campaign(tmp_path, 0.4)  # a few calls of 60-90 s at 7 cents a minute
    log = tmp_path / "run.log"
    with run_simulator_in_thread(engine) as server:
        run = subprocess.Popen(
            [sys.executable, "-m", "dialer", "run", str(path), "--no-progress", *_FLAGS],
            env=_env(store_url, server.url),
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        try:
            await _until(
                lambda: "campaign_paused_waiting" in log.read_text(), 60, "the budget's pause"
            )
            assert "budget reached" in log.read_text()
            called = len(engine.calls)
            assert 0 < called < LEADS
            # `dialer load` of the same file with the budget raised, then `dialer resume`
            # (their code, in this process: two fewer interpreters to start)
            path = _campaign(tmp_path, 500.0)
            await load_campaign(str(path), store_url)
            store = await open_store(store_url)
            try:
                said = await resume(store, "budget1")
            finally:
                await store.close()
            assert "served by 1 `dialer run`" in said, said
            with anyio.fail_after(60):
                while run.poll() is None:
                    await anyio.sleep(0.1)
            assert run.returncode == 0, log.read_text()[-3000:]
        finally:
            if run.poll() is None:
                run.kill()
    assert {c.to_number for c in engine.calls.values()} == set(numbers(LEADS))
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (reloaded,) = [e for e in events if e.get("event") == "campaign_settings_reloaded"]
    assert reloaded["changed"] == ["budget_usd"]
    waits = [e["reason"] for e in events if e.get("event") == "campaign_paused_waiting"]
    assert len(waits) == 1, waits  # not paused again at once by the old budget
    assert waits[0].startswith("budget reached: $") and waits[0].endswith("of $0.40")
