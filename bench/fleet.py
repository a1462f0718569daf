"""A fleet following its calls, at real time (no clock compression), on one Postgres.

    python bench/fleet.py [--seconds 75] [--processes 1,2,4]

Rows: 1, 2 and 4 `dialer worker` processes dialing one campaign of leads whose calls last
8-16 s, at a cap of 200 and 50 calls/s (the cap binds); then one process at a cap of 10 with
calls of 2-4 s (20 calls/s). Each row dials enough leads for about `--seconds` of calls at the
cap. Printed, from the simulator's records (its own process): slot utilization while the cap
binds, the time from a call's end to the next dial (p50, p95), Retell reads per second (every
get-call and list-calls, late analyses and recordings included) and of those the "which of these
calls ended?" list-calls per second; and the CPU seconds per process per minute of the run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from common import (
    Simulator,
    database,
    run_workers,
    write_campaign,
    write_leads,
)
from following import figures


def end_asks(records: dict[str, Any], since: int) -> float:
    """The "which ended?" list-calls a second, over the run's calls."""
    calls = sorted(records["calls"], key=lambda c: c["created"])[since:]
    first, last = calls[0]["created"], max(c["terminal_at"] for c in calls)
    asks = [t for t in records.get("end_ask_times", []) if first <= t <= last]
    return len(asks) / (last - first)


def row(
    folder: Path, label: str, workers: int, cap: int, cps: float, calls: str, leads: int
) -> str:
    sim = Simulator(1.0, workers, "--call-seconds", calls)
    try:
        name = f"fleet-{workers}-{cap}"
        campaign = write_campaign(folder, write_leads(folder, leads, 0), name, cps, cap)
        url = database("postgres", folder, name)
        _, cpu = run_workers(sim, url, campaign, workers, folder)
        records = sim.records()
        u, p50, p95, rps = figures(records, cap, 0, {})
        asks = end_asks(records, 0)
    finally:
        sim.close()
    return f"| {label} | {u:.1%} | {p50:.0f} / {p95:.0f} | {rps:.1f} | {asks:.1f} | {cpu:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    print(
        "| processes (Postgres, real time) | slot utilization | end → next dial p50 / p95 ms ",
        end="",
    )
    print('| reads/s | of which list-calls "which ended?"/s | CPU s per process per minute |')
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wide = int(args.seconds * 200 / 12)  # calls of 12 s on average, 200 at once
        for workers in (int(n) for n in args.processes.split(",") if n):
            label = f"{workers} (cap 200, 50 calls/s, calls 8-16 s)"
            print(row(folder, label, workers, 200, 50, "8-16", wide), flush=True)
        narrow = int(args.seconds * 10 / 3)  # calls of 3 s on average, 10 at once
        print(row(folder, "1 (cap 10, 20 calls/s, calls 2-4 s)", 1, 10, 20, "2-4", narrow))


if __name__ == "__main__":
    main()
