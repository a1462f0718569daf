"""How placed calls are followed, side by side at real-time speed (no clock compression):
a naive script, dialer polling each call (`--follow get-call`, the behaviour before batched
following) and dialer following in batches (`--follow list`, the default).

    python bench/following.py [--leads 150] [--wide-leads 500]

The simulator (`dialer simulator --call-seconds 2-4`, its own process) makes every call last
2-4 s. At a cap of 10 and 20 calls/s the cap binds; printed, from the simulator's records:
slot utilization while it binds, the time from a call's end to the next dial (p50, p95), and
Retell read requests per second. A second table runs 200 calls at once (calls of 20-30 s) and
prints the reads per second each way of following costs.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
from common import KEY, Simulator, naive_call, write_leads

READS = ("get-call", "list-calls")


async def naive(url: str, leads: Path, cap: int, cps: float) -> None:
    """What a user writes first: a semaphore for the cap, a sleep for the rate, and a
    get-call every second per live call."""
    with leads.open() as f:
        numbers = [row["to_number"] for row in csv.DictReader(f)]
    slots = asyncio.Semaphore(cap)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as http:

        async def one(number: str) -> None:
            async with slots:
                await naive_call(http, number, 1.0)

        tasks = []
        for number in numbers:
            tasks.append(asyncio.create_task(one(number)))
            await asyncio.sleep(1 / cps)
        await asyncio.gather(*tasks)


def run_dialer(
    sim: Simulator, leads: Path, folder: Path, cap: int, cps: float, follow: str
) -> None:
    name = f"follow-{follow}-{uuid.uuid4().hex[:6]}"
    campaign = folder / f"{name}.yaml"
    campaign.write_text(
        f"name: '{name}'\nfrom_number: '+14155550100'\nleads: {leads.name}\n"
        f"pacing: {{calls_per_second: {cps}, max_concurrent_calls: {cap}}}\n"
        "retry: {max_attempts: 1}\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/{name}.db",
        "RETELL_BASE_URL": sim.url,
        "RETELL_API_KEY": KEY,
    }
    subprocess.run(
        [sys.executable, "-m", "dialer", "run", str(campaign), "--follow", follow, "--no-progress"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )


def figures(
    records: dict[str, Any], cap: int, since_creates: int, since_reads: dict[str, int]
) -> tuple[float, float, float, float]:
    """(utilization while the cap binds, end→next-dial p50 and p95 in ms, reads/s)."""
    calls = sorted(records["calls"], key=lambda c: c["created"])[since_creates:]
    events = sorted([(c["created"], 1) for c in calls] + [(c["terminal_at"], -1) for c in calls])
    live, full_at = 0, None
    for at, delta in events:
        live += delta
        if live >= cap and full_at is None:
            full_at = at
    last_dial = calls[-1]["created"]
    busy, live, previous = 0.0, 0, full_at
    for at, delta in events:
        if full_at is not None and full_at <= at <= last_dial and previous is not None:
            busy += live * (at - previous)
        if full_at is not None and at >= full_at:
            previous = min(at, last_dial)
        live += delta
    span = last_dial - (full_at or last_dial)
    utilization = busy / (cap * span) if span > 0 else 0.0
    starts = [c["created"] for c in calls]
    gaps = []
    for c in calls:
        end = c["terminal_at"]
        if full_at is not None and full_at <= end < last_dial:
            following = min((s for s in starts if s >= end), default=None)
            if following is not None:
                gaps.append((following - end) * 1000)
    gaps.sort()
    p50 = statistics.median(gaps) if gaps else float("nan")
    p95 = gaps[int(0.95 * (len(gaps) - 1))] if gaps else float("nan")
    # every read of the run, over the whole run: the follow reads while calls are live, and the
    # late-details reads after (analyses, costs, one get-call per connected call for its
    # recording, which Retell's list items lack)
    first = calls[0]["created"]
    read_times = [t for t in records["read_times"] if t >= first]
    duration = max([c["terminal_at"] for c in calls] + read_times) - first
    reads = sum(records["requests"].get(e, 0) - since_reads.get(e, 0) for e in READS)
    return utilization, p50, p95, reads / duration


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=150)
    parser.add_argument("--wide-leads", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("cap 10, 20 calls/s, calls of 2-4 s, real time\n")
        print("| follower | slot utilization | end→next dial p50 ms | p95 ms | reads/s |")
        print("| --- | --- | --- | --- | --- |")
        sim = Simulator(1.0, 1, "--call-seconds", "2-4")
        try:
            for index, way in enumerate(("naive script", "get-call", "list")):
                leads = write_leads(folder, args.leads, index * 100_000)
                before = sim.records()
                if way == "naive script":
                    asyncio.run(naive(sim.url, leads, 10, 20))
                else:
                    run_dialer(sim, leads, folder, 10, 20, way)
                u, p50, p95, rps = figures(
                    sim.records(), 10, len(before["calls"]), before["requests"]
                )
                label = way if way == "naive script" else f"dialer --follow {way}"
                print(f"| {label} | {u:.1%} | {p50:.0f} | {p95:.0f} | {rps:.1f} |")
        finally:
            sim.close()
        print("\n200 calls at once (cap 200, 20 calls/s, calls of 20-30 s)\n")
        print("| follower | reads/s |")
        print("| --- | --- |")
        sim = Simulator(1.0, 1, "--call-seconds", "20-30")
        try:
            for index, way in enumerate(("get-call", "list")):
                leads = write_leads(folder, args.wide_leads, 500_000 + index * 100_000)
                before = sim.records()
                run_dialer(sim, leads, folder, 200, 20, way)
                *_, rps = figures(sim.records(), 200, len(before["calls"]), before["requests"])
                print(f"| dialer --follow {way} | {rps:.1f} |")
        finally:
            sim.close()


if __name__ == "__main__":
    main()
