"""A fleet of `dialer worker` processes on one Postgres.

    python bench/workers.py [--leads 2000] [--paced-leads 600]

- placed calls/s with 1, 2 and 4 workers, ceilings off (one campaign, one attempt per lead);
- ceiling precision with 4 workers on one campaign at 20 calls/s and 30 concurrent: the most
  calls started in any 1-second window and the most live at once, against the ceilings.

The simulator runs in its own process; every figure comes from its records.
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


def placement_rate(records: dict[str, Any]) -> float:
    starts = sorted(c["created"] for c in records["calls"])
    return (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else 0.0


def precision(records: dict[str, Any], cps: int) -> tuple[int, float, int, float]:
    """(most calls started in any 1 s window, shortest time spanned by cps+1 consecutive
    starts, most live at once, mean rate). Arrival times carry loopback jitter of a few ms,
    so the span is the sharper measure: at cps calls/s it can be no shorter than 1 s."""
    calls = records["calls"]
    starts = sorted(c["created"] for c in calls)
    most, j = 0, 0
    for i, t in enumerate(starts):
        while starts[j] <= t - 1.0:
            j += 1
        most = max(most, i - j + 1)
    span = min(
        (starts[i + cps] - starts[i] for i in range(len(starts) - cps)), default=float("inf")
    )
    events = sorted([(c["created"], 1) for c in calls] + [(c["terminal_at"], -1) for c in calls])
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return most, span, peak, placement_rate(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--paced-leads", type=int, default=600)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        leads = write_leads(folder, args.leads, 0)
        for workers in (1, 2, 4):
            sim = Simulator(100.0, seed=workers)
            try:
                name = f"fleet-{workers}"
                campaign = write_campaign(folder, leads, name, cps=1_000_000, cap=1_000_000)
                url = database("postgres", folder, name)
                wall, _ = run_workers(sim, url, campaign, workers, folder)
                rows.append(
                    (f"{workers} worker(s), ceilings off", placement_rate(sim.records()), wall)
                )
            finally:
                sim.close()

        sim = Simulator(100.0, seed=9)
        try:
            paced = write_leads(folder, args.paced_leads, 500_000)
            campaign = write_campaign(folder, paced, "fleet-paced", cps=20, cap=30)
            url = database("postgres", folder, "paced")
            wall, _ = run_workers(sim, url, campaign, 4, folder)
            most, span, peak, rate = precision(sim.records(), cps=20)
        finally:
            sim.close()

    print(f"{'fleet on one Postgres':<34} {'calls/s':>8} {'wall s':>7}")
    for name, rate_, wall_ in rows:
        print(f"{name:<34} {rate_:>8.1f} {wall_:>7.1f}")
    print()
    print("4 workers, ceilings 20 calls/s and 30 concurrent:")
    print(f"  most calls started in any 1 s window: {most} (ceiling 20)")
    print(f"  shortest span of 21 consecutive dials: {span * 1000:.0f} ms (ceiling: 1000 ms)")
    print(f"  most calls live at once:              {peak} (ceiling 30)")
    print(f"  mean dial rate:                       {rate:.1f}/s over {wall:.0f} s")


if __name__ == "__main__":
    main()
