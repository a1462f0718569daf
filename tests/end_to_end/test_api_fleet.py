"""The API in front of a fleet on one Postgres: a campaign created over the API (on a worker's
own port, `dialer worker --http-port`), leads added while two workers dial it — the new ones
dialed, each exactly once, a retried upload changing nothing — paused and resumed over the
API, its results read page by page. Checked against the simulator's own records."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store

from ..helpers import check_invariants, numbers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(url: str, base_url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_LEASE_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "worker", "--speed", str(SPEED), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


async def _until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


async def test_leads_added_over_the_api_while_two_workers_dial_are_each_dialed_once(
    store_url: str, tmp_path: Path
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a fleet of workers shares one Postgres")
    store = await open_store(store_url)
    try:
        token = await store.create_token("crm", read_only=False)
    finally:
        await store.close()
    engine = SimulatedRetell(speed=SPEED / 3, seed=5, concurrency_limit=1000)  # ~1 s calls
    nums = numbers(240)
    first, second = nums[:120], nums[120:]
    port = _free_port()
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    auth = {"Authorization": f"Bearer {token}"}
    campaign = {
        "from_number": "+14155550100",
        "pacing": {"calls_per_second": 40 / SPEED, "max_concurrent_calls": 16},
        "retry": {"max_attempts": 1},
    }
    csv = "lead_id,to_number,first_name\n" + "".join(f"a{i},{n},Ann\n" for i, n in enumerate(first))
    with run_simulator_in_thread(engine) as server:
        workers = [
            _worker(store_url, server.url, logs[0], "--http-port", str(port)),
            _worker(store_url, server.url, logs[1]),
        ]
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30
            ) as api:

                async def answering() -> bool:
                    try:
                        return (await api.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _until(answering, 30, "the worker's port answers")
                put = await api.put("/v1/campaigns/crm-leads", json=campaign)
                assert put.status_code == 201, put.text
                added = await api.post(
                    "/v1/campaigns/crm-leads/leads",
                    content=csv,
                    headers={"content-type": "text/csv"},
                )
                assert added.json()["added"] == 120, added.text

                async def dialing() -> bool:
                    return len(engine.calls) >= 20

                await _until(dialing, 30, "the workers dial the first leads")
                later = [{"lead_id": f"b{i}", "to_number": n} for i, n in enumerate(second)]
                more = await api.post("/v1/campaigns/crm-leads/leads", json=later)
                assert more.json()["added"] == 120, more.text
                retried = await api.post(
                    "/v1/campaigns/crm-leads/leads",
                    content=csv,
                    headers={"content-type": "text/csv"},
                )
                assert retried.json()["unchanged"] == 120 and retried.json()["added"] == 0

                paused = await api.post("/v1/campaigns/crm-leads/pause")
                assert paused.json()["status"] == "paused", paused.text
                paused_at = time.monotonic()
                await anyio.sleep(3.0)
                creates = engine.records()["creates"]
                assert not [c for c in creates if c["at"] > paused_at + 1.0], "dialed while paused"
                left = (await api.get("/v1/campaigns/crm-leads")).json()["leads"]
                assert left.get("pending", 0) > 0, "the campaign ended before the pause"

                resumed = await api.post("/v1/campaigns/crm-leads/resume")
                assert resumed.json()["status"] == "active"
                assert "served by" in resumed.json()["message"]

                async def finished() -> bool:
                    view = (await api.get("/v1/campaigns/crm-leads")).json()
                    done = sum(view["leads"].get(s, 0) for s in ("completed", "failed", "skipped"))
                    return bool(done == len(nums) and view["active_calls"] == 0)

                await _until(finished, 90, "every lead is dialed")
                items: list[dict[str, Any]] = []
                cursor = None
                pages = 0
                while True:
                    params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
                    page = (await api.get("/v1/campaigns/crm-leads/results", params=params)).json()
                    items += page["items"]
                    pages += 1
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
        finally:
            for proc in workers:
                proc.send_signal(signal.SIGTERM)
            for proc in workers:
                proc.wait(15)
        records = engine.records()
    check_invariants(records, max_attempts=1, cap=16)
    dialed = Counter(call["to_number"] for call in records["calls"])
    assert set(dialed) == set(nums) and set(dialed.values()) == {1}  # each exactly once
    assert pages == 5 and [i["to_number"] for i in items] == nums
    assert {i["state"] for i in items} <= {"completed", "failed"}
    assert all(i["last_call_id"] for i in items)
    for log in logs:  # both workers dialed
        assert '"call_placed"' in log.read_text(), log.read_text()[-2000:]
