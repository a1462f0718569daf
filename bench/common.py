"""What the benchmarks share: a simulator in its own process, generated leads, stores."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

KEY = "sim-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def naive_call(http: httpx.AsyncClient, number: str, poll_seconds: float) -> None:
    """One call the way a first script places it: create, then get-call every
    `poll_seconds` until it is over."""
    created = await http.post(
        "/v2/create-phone-call",
        json={
            "from_number": "+14155550100",
            "to_number": number,
            "metadata": {"attempt_id": uuid.uuid4().hex},
        },
    )
    call_id = created.json()["call_id"]
    while True:
        await asyncio.sleep(poll_seconds)
        got = (await http.get(f"/v2/get-call/{call_id}")).json()
        if got["call_status"] in ("ended", "error", "not_connected"):
            return


class Simulator:
    def __init__(self, speed: float, seed: int, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dialer",
                "simulator",
                "--port",
                str(self.port),
                "--speed",
                str(speed),
                "--seed",
                str(seed),
                "--concurrency-limit",
                "100000",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()

    def records(self) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.url}/_sim/records", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# New York exchanges a lead list accepts: not N11 service codes (211, 311, …) nor 976, which a
# campaign refuses unless it sets allow_premium_numbers.
_EXCHANGES = [e for e in range(200, 1000) if e % 100 != 11 and e != 976]


def bench_number(index: int) -> str:
    """The index-th of 7.9 million distinct, ordinary +1 212 numbers."""
    exchange, line = divmod(index, 10_000)
    return f"+1212{_EXCHANGES[exchange]}{line:04d}"


def write_leads(folder: Path, count: int, start: int) -> Path:
    path = folder / f"leads-{count}-{start}.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["to_number", "first_name"])
        for i in range(count):
            writer.writerow([bench_number(start + i), f"N{i}"])
    return path


def write_campaign(folder: Path, leads: Path, name: str, cps: float, cap: int) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: '{name}'\nfrom_number: '+14155550100'\nleads: {leads.name}\n"
        f"pacing: {{calls_per_second: {cps}, max_concurrent_calls: {cap}}}\n"
        "retry: {max_attempts: 1}\n"
    )
    return path


def database(kind: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder}/{name}.db"
    db = f"dialer_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-qc",
            f'CREATE DATABASE "{db}"',
        ],
        check=True,
    )
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"
    subprocess.run(
        [sys.executable, "-m", "dialer", "db", "upgrade"],
        check=True,
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
    )
    return url


async def load_campaign(url: str, campaign: Path) -> None:
    """Load a campaign file into the store at `url`, as `dialer load` does."""
    from dialer.inputs.campaign_file import read_campaign_file
    from dialer.operations.loading import import_campaign
    from dialer.store import open_store

    store = await open_store(url)
    try:
        await import_campaign(store, read_campaign_file(campaign))
    finally:
        await store.close()


async def has_unfinished(url: str) -> bool:
    """Whether the store's first campaign has leads still to finish."""
    from dialer.store import open_store

    store = await open_store(url)
    try:
        row = (await store.campaigns())[0]
        return await store.has_unfinished_leads(row.id)
    finally:
        await store.close()


def _cpu(proc: subprocess.Popen[bytes]) -> float:
    try:
        times = psutil.Process(proc.pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def run_workers(
    sim: Simulator, url: str, campaign: Path, workers: int, folder: Path
) -> tuple[float, float]:
    """Load the campaign and let `workers` workers dial it to its end: (wall seconds, their
    mean CPU seconds per minute)."""
    asyncio.run(load_campaign(url, campaign))
    env = {**os.environ, "DATABASE_URL": url, "RETELL_BASE_URL": sim.url, "RETELL_API_KEY": KEY}
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dialer", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / f"worker-{workers}-{i}.log").open("ab"),
        )
        for i in range(workers)
    ]
    cpu = [0.0] * workers
    try:
        while asyncio.run(has_unfinished(url)):
            if any(p.poll() is not None for p in procs):
                sys.exit(f"a worker died; see {folder}")
            cpu = [_cpu(p) for p in procs]
            time.sleep(0.5)
        cpu = [_cpu(p) for p in procs]
        wall = time.perf_counter() - started
        return wall, sum(cpu) / workers / (wall / 60)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
