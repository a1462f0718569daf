"""How fast a campaign resumes after Retell's create endpoint comes back from an outage.

    python bench/recovery.py [--outage 20] [--runs 3] [--store sqlite|postgres]

A simulator (in this process, on a thread) answers every create with 503 for `--outage`
seconds while reads keep working, as in a partial Retell outage; `dialer run` (a real process,
real-time pacing: 20 calls/s, 10 concurrent) meets it with its slots soon held by attempts in
doubt. Printed per run: creates tried during the window (tries/s), and from the window's end:
the first call placed again, and the moment all 10 slots have dialed again (the 10th placed
call) — read from the simulator's records.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import KEY, database, write_campaign, write_leads

from dialer.simulator import Faults, SimulatedRetell, run_simulator_in_thread

CAP = 10


def one_run(outage: float, store: str, folder: Path, index: int) -> tuple[int, float, float, float]:
    start_at = 3.0
    engine = SimulatedRetell(
        speed=60, seed=index, faults=Faults(create_outage=(start_at, start_at + outage))
    )
    leads = write_leads(folder, 400, index * 1000)
    campaign = write_campaign(folder, leads, f"recovery{index}", cps=20, cap=CAP)
    url = database(store, folder, f"recovery{index}")
    with run_simulator_in_thread(engine) as server:
        env = {**os.environ, "DATABASE_URL": url, "RETELL_BASE_URL": server.url}
        env["RETELL_API_KEY"] = KEY
        proc = subprocess.Popen(
            [sys.executable, "-m", "dialer", "run", str(campaign), "--speed", "60"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(start_at + outage + 15)
        proc.terminate()
        proc.wait(30)
        records = engine.records()
    sim_start = engine._start
    window_end = sim_start + start_at + outage
    tried = [r for r in records["creates"] if r["answer"] == "503-outage"]
    placed_after = sorted(
        r["at"] for r in records["creates"] if r["at"] >= window_end and r["call_id"]
    )
    first = placed_after[0] - window_end if placed_after else float("inf")
    full = placed_after[CAP - 1] - window_end if len(placed_after) >= CAP else float("inf")
    return len(tried), len(tried) / outage, first, full


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    print(f"create outage of {args.outage:g} s, 20 calls/s, cap 10, store {args.store}\n")
    print("| run | creates tried in the window | tries/s | first dial after s |", end="")
    print(" all slots dialing after s |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            tried, rate, first, full = one_run(args.outage, args.store, Path(tmp), index)
            print(f"| {index + 1} | {tried} | {rate:.1f} | {first:.2f} | {full:.2f} |")


if __name__ == "__main__":
    main()
