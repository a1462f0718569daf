"""Postgres stopped for 20 s under a running `dialer worker` and `dialer run` (a private
cluster, so the shared server is untouched): neither exits, the worker reports the store as
down, dialing resumes within seconds of Postgres answering, every lead ends terminal, and no
number is dialed twice or while its call was live (from the simulator's records)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import leads

from ..helpers import check_invariants, numbers, write_campaign
from ..pg_cluster import PrivateCluster

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OUTAGE_SECONDS = 20.0
SPEED = 100.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_postgres_restart_is_ridden_out(tmp_path: Path) -> None:
    cluster = PrivateCluster()
    try:
        cluster.start()
        env = {
            **os.environ,
            "DATABASE_URL": cluster.url,
            "RETELL_API_KEY": "sim-key",
            "DIALER_LEASE_SECONDS": "30",
        }
        subprocess.run(
            [sys.executable, "-m", "dialer", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        engine = SimulatedRetell(speed=SPEED, seed=21, concurrency_limit=1000)
        path = write_campaign(tmp_path, numbers(150), name="outage", cps=8, cap=10, max_attempts=1)
        port = _free_port()
        with run_simulator_in_thread(engine) as server:
            env["RETELL_BASE_URL"] = server.url
            common = ["--speed", str(SPEED), "--log-format", "json"]
            worker = subprocess.Popen(
                [sys.executable, "-m", "dialer", "worker", "--metrics-port", str(port), *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(tmp_path / "worker.log").open("wb"),
            )
            run = subprocess.Popen(
                [sys.executable, "-m", "dialer", "run", str(path), "--no-progress", *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(tmp_path / "run.log").open("wb"),
            )
            try:
                _wait_for(lambda: len(engine.records()["calls"]) >= 25, 60, "the first calls")
                await asyncio.to_thread(cluster.stop)
                stopped = time.monotonic()
                health: list[httpx.Response] = []

                def reported_down() -> bool:
                    health.append(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3))
                    return str(health[-1].json().get("store")).startswith("down for")

                _wait_for(reported_down, 10, "the worker to report the store down")
                assert health[-1].status_code == 503
                time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
                assert worker.poll() is None and run.poll() is None, "a process exited"
                await asyncio.to_thread(cluster.start)
                back = time.monotonic()
                assert run.wait(180) == 0, (tmp_path / "run.log").read_text()[-3000:]
                records = engine.records()
            finally:
                for proc in (worker, run):
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
            assert worker.wait(60) == 143, (tmp_path / "worker.log").read_text()[-3000:]
        creates = sorted(c["at"] for c in records["creates"])
        resumed = next(at for at in creates if at >= back)
        assert resumed - back <= 5.0, f"dialing resumed {resumed - back:.1f} s after Postgres"
        check_invariants(records, max_attempts=1, cap=10)
        for log in ("worker.log", "run.log"):
            text = (tmp_path / log).read_text()
            assert "store_unavailable" in text and "store_back" in text, log
            assert "Traceback" not in text, text[-3000:]
        store = await open_store(cluster.url)
        try:
            async with store.engine.connect() as conn:
                states = [r.state for r in await conn.execute(select(leads.c.state))]
        finally:
            await store.close()
        assert len(states) == 150 and set(states) <= {"completed", "failed"}, set(states)
    finally:
        cluster.remove()
