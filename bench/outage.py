"""How often `dialer run` asks Retell while Retell answers 503 to everything, and how soon it dials
when Retell is back.

    python bench/outage.py [--outage 30] [--runs 1] [--store sqlite|postgres] [--pythonpath DIR]

A simulator (in this process, on a thread; calls of 2 to 4 s) answers every request with 503 for
`--outage` seconds; `dialer run` (a real process, real time: 5 calls/s, 20 concurrent) meets it
mid-campaign. Printed per run, from the simulator's records: requests a second in the 5 s before
the outage and during it (from its 3rd second on), by endpoint, and the first create after it.
`--pythonpath` runs another checkout's dialer (e.g. an older one, to compare).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import KEY, database, write_campaign, write_leads

from dialer.simulator import Faults, SimulatedRetell, run_simulator_in_thread

START_AT = 8.0  # seconds after the simulator starts: the run is well under way
SETTLING = 3.0  # the outage's first seconds are not counted
AFTER = 5.0


def one_run(
    outage: float, store: str, folder: Path, index: int, pythonpath: str | None
) -> tuple[float, float, Counter[str], float]:
    window = (START_AT, START_AT + outage)
    engine = SimulatedRetell(
        speed=1, seed=index, call_seconds=(2.0, 4.0), faults=Faults(outage=window)
    )
    leads = write_leads(folder, 2000, index * 10_000)
    campaign = write_campaign(folder, leads, f"outage{index}", cps=5, cap=20)
    url = database(store, folder, f"outage{index}")
    with run_simulator_in_thread(engine) as server:
        env = {**os.environ, "DATABASE_URL": url, "RETELL_BASE_URL": server.url}
        env["RETELL_API_KEY"] = KEY
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        proc = subprocess.Popen(
            [sys.executable, "-m", "dialer", "run", str(campaign), "--log-format", "json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(window[1] + AFTER)
        proc.terminate()
        proc.wait(30)
        records = engine.records()
    zero = engine._start
    arrivals = [(at - zero, endpoint) for at, endpoint in records["arrivals"]]
    before = sum(1 for at, _ in arrivals if window[0] - 5 <= at < window[0]) / 5
    span = (window[0] + SETTLING, window[1])
    during_by = Counter(e for at, e in arrivals if span[0] <= at < span[1])
    during = sum(during_by.values()) / (span[1] - span[0])
    made = sorted(r["at"] - zero for r in records["creates"] if r["call_id"])
    first = next((at - window[1] for at in made if at >= window[1]), float("inf"))
    return before, during, during_by, first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pythonpath", default=None)
    args = parser.parse_args()
    print(f"total outage of {args.outage:g} s, 5 calls/s, cap 20, calls 2–4 s, real time\n")
    print("| run | requests/s before | during | during, by endpoint | first call after, s |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            before, during, by, first = one_run(
                args.outage, args.store, Path(tmp), index, args.pythonpath
            )
            span = args.outage - SETTLING
            shown = ", ".join(f"{e} {n / span:.1f}" for e, n in by.most_common())
            print(f"| {index + 1} | {before:.1f} | {during:.1f} | {shown} | {first:.2f} |")


if __name__ == "__main__":
    main()
