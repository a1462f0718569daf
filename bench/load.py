"""Loading speed and memory: 100k and 1M generated leads into SQLite and Postgres.

    python bench/load.py                 # 100k and 1M rows, SQLite and Postgres (if reachable)
    python bench/load.py --rows 100000   # one size

Each load runs in its own process so its peak RSS is its own. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def generate(rows: int, folder: Path) -> Path:
    leads = folder / f"leads-{rows}.csv"
    with leads.open("w") as out:
        out.write("lead_id,to_number,first_name,plan,renewal_date\n")
        for i in range(rows):
            number = f"+1{212 + i // 8_000_000}{2_000_000 + i % 8_000_000:07d}"
            out.write(f"L{i},{number},Name{i % 977},Plus,2027-04-{1 + i % 28:02d}\n")
    campaign = folder / f"bench-{rows}.yaml"
    campaign.write_text(
        f"name: bench-{rows}\nfrom_number: '+14155550100'\nleads: {leads.name}\n"
        "dynamic_variables: {company: Acme}\n"
    )
    return campaign


def child(campaign: str, url: str) -> None:
    from dialer.campaign import load_campaign
    from dialer.load import load_campaign_into_store
    from dialer.store import open_store

    async def go() -> dict[str, float]:
        store = await open_store(url)
        try:
            started = time.perf_counter()
            result = await load_campaign_into_store(store, load_campaign(Path(campaign)))
            first = time.perf_counter() - started
            started = time.perf_counter()
            again = await load_campaign_into_store(store, load_campaign(Path(campaign)))
            second = time.perf_counter() - started
            return {
                "rows": result.added,
                "seconds": first,
                "reload_seconds": second,
                "reload_added": again.added,
            }
        finally:
            await store.close()

    out = asyncio.run(go())
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_url() -> tuple[str, str] | None:
    name = f"dialer_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # report and skip
        print(f"(Postgres skipped: {exc})", file=sys.stderr)
        return None
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    subprocess.run(
        [sys.executable, "-m", "dialer", "db", "upgrade"],
        check=True,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
    )
    return url, name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--child", nargs=2, metavar=("CAMPAIGN", "URL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = args.rows or [100_000, 1_000_000]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for rows in sizes:
            campaign = generate(rows, folder)
            targets: list[tuple[str, str, str | None]] = [
                ("sqlite", f"sqlite+aiosqlite:///{folder}/bench-{rows}.db", None)
            ]
            pg = postgres_url()
            if pg:
                targets.append(("postgres", pg[0], pg[1]))
            for kind, url, dbname in targets:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", str(campaign), url],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    print(proc.stderr[-2000:], file=sys.stderr)
                    continue
                data = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append((rows, kind, data))
                if dbname:
                    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    print(
        f"{'rows':>9} {'store':<9} {'load s':>8} {'rows/s':>9} {'reload s':>9} {'peak RSS MB':>12}"
    )
    for rows, kind, d in results:
        print(
            f"{rows:>9,} {kind:<9} {d['seconds']:>8.1f} {d['rows'] / d['seconds']:>9,.0f}"
            f" {d['reload_seconds']:>9.1f} {d['peak_rss_mb']:>12.0f}"
        )


if __name__ == "__main__":
    main()
