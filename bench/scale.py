"""dialer at a million leads, on Postgres: does anything grow with the list?

    python bench/scale.py [--big 1000000] [--small 10000] [--seconds 15]

- the cost of one claim (a batch of 50, ceilings off) on a campaign of `--small` and of `--big`
  leads, measured in this process against the store;
- time from start to the first dial on the big store, for `dialer run FILE` (its files
  unchanged since they were loaded: not read again) and for a `dialer worker`;
- placed calls/s with ceilings off on the big store with 1, 2 and 4 workers, and each
  worker's resident memory, beside one worker's on the small store.

The simulator runs in its own process (speed 100); dial figures come from its records.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil
from common import KEY, Simulator, database, write_campaign, write_leads

from dialer.domain.campaign import Pacing
from dialer.domain.policy import after_not_placed
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import ClaimRequest, open_store

OFF = Pacing(calls_per_second=1_000_000, max_concurrent_calls=1_000_000)


async def load_and_time_claims(url: str, campaign: Path, claims: int = 30) -> tuple[float, float]:
    """Load the campaign; returns (load seconds, median ms per claim of 50)."""
    store = await open_store(url)
    try:
        started = time.perf_counter()
        campaign_id = (await import_campaign(store, read_campaign_file(campaign))).campaign_id
        loaded = time.perf_counter() - started
        timings = []
        request = ClaimRequest(OFF, 50, 30)
        claimed = []
        for _ in range(claims):
            started = time.perf_counter()
            claim = await store.claim(campaign_id, "bench", request)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(claim.attempts) == 50
            claimed.extend(claim.attempts)
        # Never sent: handed back as a stopping runner hands back what it did not send (left
        # to lapse instead, they would be in doubt, and the workers below would spend their
        # first minute reconciling 1,500 attempts at the read budget's pace).
        now = await store.now()
        for attempt in claimed:
            back = after_not_placed(attempt.number, now, retry_in=timedelta(0), error=None)
            await store.record_not_placed(attempt, "bench", back, error=None, sent=False)
        return loaded, statistics.median(timings)
    finally:
        await store.close()


def env_for(url: str, sim: Simulator) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "RETELL_BASE_URL": sim.url, "RETELL_API_KEY": KEY}


def first_dial(sim: Simulator, command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting `dialer …` to the simulator's first create after that."""
    before = len(sim.records()["creates"])
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len(sim.records()["creates"]) == before:
            if time.monotonic() - started > 120:
                return float("inf")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def fleet(
    sim: Simulator, env: dict[str, str], workers: int, seconds: float
) -> tuple[float, list[float]]:
    """(placed calls/s over the last 2/3 of `seconds`, RSS MB of each worker at the end)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dialer", "worker", "--speed", "100"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        time.sleep(seconds / 3)
        before, t0 = len(sim.records()["creates"]), time.monotonic()
        time.sleep(seconds * 2 / 3)
        rate = (len(sim.records()["creates"]) - before) / (time.monotonic() - t0)
        rss = [psutil.Process(p.pid).memory_info().rss / 1e6 for p in procs]
        return rate, rss
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = {}
        print("| leads | load s | claim of 50, median ms |")
        print("| --- | --- | --- |")
        for count in (args.small, args.big):
            leads = write_leads(folder, count, 0)
            campaign = write_campaign(folder, leads, f"scale{count}", 1_000_000, 1_000_000)
            url = database("postgres", folder, f"scale{count}")
            loaded, claim_ms = asyncio.run(load_and_time_claims(url, campaign))
            stores[count] = (url, campaign)
            print(f"| {count:,} | {loaded:.1f} | {claim_ms:.1f} |")

        sim = Simulator(100.0, seed=1)
        try:
            url, campaign = stores[args.big]
            env = env_for(url, sim)
            run_first = first_dial(
                sim, ["run", str(campaign), "--speed", "100", "--no-progress"], env
            )
            worker_first = first_dial(sim, ["worker", "--speed", "100"], env)
            print(
                f"\nfirst dial on {args.big:,} leads: dialer run {run_first:.2f} s, "
                f"dialer worker {worker_first:.2f} s after start"
            )
            print("\n| store | workers | placed calls/s | RSS per worker MB |")
            print("| --- | --- | --- | --- |")
            small_rate, small_rss = fleet(sim, env_for(stores[args.small][0], sim), 1, args.seconds)
            print(f"| {args.small:,} | 1 | {small_rate:.0f} | {small_rss[0]:.0f} |")
            for workers in (1, 2, 4):
                rate, rss = fleet(sim, env, workers, args.seconds)
                shown = ", ".join(f"{r:.0f}" for r in rss)
                print(f"| {args.big:,} | {workers} | {rate:.0f} | {shown} |")
        finally:
            sim.close()


if __name__ == "__main__":
    main()
