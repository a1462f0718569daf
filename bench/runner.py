"""dialer against a naive script, side by side, on the same simulator and the same CSV.

    python bench/runner.py [--leads 2000] [--paced-leads 400] [--store sqlite|postgres]

- naive: asyncio.gather + httpx over the CSV, no store, no ceilings: create, then poll to the end.
- dialer, ceilings off: `dialer run` with calls_per_second and max_concurrent_calls far above need.
- dialer at 20 calls/s and 50 concurrent, calls long enough that the concurrency cap binds:
  achieved rate, mean slot utilization, and the time from a call's end to the next dial.

The simulator runs as `dialer simulator` in its own process; every figure is read from its
records (`GET /_sim/records`), i.e. from what "Retell" saw.
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
import time
from pathlib import Path
from typing import Any

import httpx
from common import KEY, Simulator, database, naive_call, write_campaign, write_leads


async def naive(url: str, leads: Path) -> None:
    with leads.open() as f:
        numbers = [row["to_number"] for row in csv.DictReader(f)]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=url,
        limits=limits,
        timeout=httpx.Timeout(30, pool=None),
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        await asyncio.gather(*(naive_call(http, n, 0.5) for n in numbers))


def run_dialer(campaign: Path, sim: Simulator, database_url: str, speed: float) -> float:
    """`speed` is what dialer is told of the simulator's clock (it scales pacing and polling)."""
    env = {
        **os.environ,
        "RETELL_BASE_URL": sim.url,
        "RETELL_API_KEY": KEY,
        "DATABASE_URL": database_url,
    }
    started = time.perf_counter()
    command = [sys.executable, "-m", "dialer", "run", str(campaign), "--no-progress"]
    done = subprocess.run(
        [*command, "--speed", str(speed)],
        check=False,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"dialer run exited {done.returncode}:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def placement_rate(records: dict[str, Any]) -> float:
    starts = sorted(c["created"] for c in records["calls"])
    if len(starts) < 2:
        return 0.0
    return (len(starts) - 1) / (starts[-1] - starts[0])


def paced_figures(records: dict[str, Any], cap: int) -> dict[str, float]:
    calls = sorted(records["calls"], key=lambda c: c["created"])
    starts = [c["created"] for c in calls]
    last = starts[-1]
    # Slot use is measured while the cap binds: from the first instant all `cap` slots were
    # live (at 20 calls/s, filling 50 slots takes 2.5 s however good the dialer) to the last dial.
    events = sorted([(c["created"], 1) for c in calls] + [(c["terminal_at"], -1) for c in calls])
    live, area, prev, first = 0, 0.0, 0.0, None
    for t, delta in events:
        if t > last:
            break
        if first is not None:
            area += live * (t - prev)
        live += delta
        prev = t
        if first is None and live >= cap:
            first = t
    if first is None:
        first = starts[0]
    area += live * (last - prev)
    utilization = area / ((last - first) * cap)
    gaps = []
    ends = sorted(c["terminal_at"] for c in calls if c["terminal_at"] < last)
    j = 0
    for end in ends:
        while j < len(starts) and starts[j] < end:
            j += 1
        if j < len(starts):
            gaps.append(starts[j] - end)
    q = statistics.quantiles(gaps, n=20) if len(gaps) >= 20 else [0.0] * 19
    return {
        "rate": (len(starts) - 1) / (last - starts[0]),
        "utilization": utilization,
        "gap_p50_ms": statistics.median(gaps) * 1000 if gaps else 0.0,
        "gap_p95_ms": q[18] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--paced-leads", type=int, default=400)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        speed = 100.0  # calls last ~1 s real

        leads = write_leads(folder, args.leads, 0)
        sim = Simulator(speed, seed=1)
        try:
            started = time.perf_counter()
            asyncio.run(naive(sim.url, leads))
            wall = time.perf_counter() - started
            rows.append(
                ("naive gather+httpx, no ceilings", placement_rate(sim.records()), wall, None)
            )
        finally:
            sim.close()

        sim = Simulator(speed, seed=1)
        try:
            campaign = write_campaign(folder, leads, "bench-unpaced", cps=1_000_000, cap=1_000_000)
            # like the naive script, dialer is not told the clock is fast: it polls in real seconds
            wall = run_dialer(campaign, sim, database(args.store, folder, "unpaced"), 1.0)
            rows.append(
                (f"dialer ({args.store}), ceilings off", placement_rate(sim.records()), wall, None)
            )
        finally:
            sim.close()

        # Calls last ~9 s real, so the 50 slots bind before 20 calls/s does. A faster clock
        # makes the dialer's fixed per-call costs (a poll, a store write, a claim: ~50 ms) look
        # 10x bigger than they are against real calls that last minutes.
        paced_speed = 10.0
        sim = Simulator(paced_speed, seed=2)
        try:
            paced_leads = write_leads(folder, args.paced_leads, 500_000)
            # 20 calls/s of real time is 20/10 per second of the simulator's compressed clock
            campaign = write_campaign(
                folder, paced_leads, "bench-paced", cps=20 / paced_speed, cap=50
            )
            wall = run_dialer(campaign, sim, database(args.store, folder, "paced"), paced_speed)
            figures = paced_figures(sim.records(), cap=50)
            rows.append(
                (f"dialer ({args.store}), 20/s and 50 concurrent", figures["rate"], wall, figures)
            )
        finally:
            sim.close()

    print(
        f"{'run':<42} {'calls/s':>8} {'wall s':>7} {'slot use':>9} {'end→dial p50':>13} {'p95':>8}"
    )
    for name, rate, wall, figures in rows:
        extra = (
            (
                f" {figures['utilization'] * 100:>8.1f}% {figures['gap_p50_ms']:>10.0f} ms"
                f" {figures['gap_p95_ms']:>5.0f} ms"
            )
            if figures
            else ""
        )
        print(f"{name:<42} {rate:>8.1f} {wall:>7.1f}{extra}")


if __name__ == "__main__":
    main()
