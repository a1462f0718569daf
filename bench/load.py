"""Loading speed and memory: 100k and 1M generated leads into SQLite and Postgres.

    python bench/load.py                          # 100k and 1M rows, every kind, both stores
    python bench/load.py --rows 100000 --spread nationwide

Three kinds of list: every number in one area code; numbers spread over every US area code
(validity and time zones are worked out once per leading-digit block, so spread numbers cost
more); and the spread numbers written nationally, `(415) 555-0123`. Each load runs in its own
process so its peak RSS is its own. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def one_area_code(rows: int) -> Iterator[str]:
    """Numbers in one area code (the next one after 7.9 million), exchange after exchange; not
    the N11 service codes nor 976, which a campaign refuses by default."""
    exchanges = [e for e in range(200, 1000) if e % 100 != 11 and e != 976]
    per_area = len(exchanges) * 10_000
    for i in range(rows):
        area, rest = divmod(i, per_area)
        exchange, line = divmod(rest, 10_000)
        yield f"+1{212 + area}{exchanges[exchange]}{line:04d}"


def nationwide(rows: int) -> Iterator[str]:
    """Distinct valid numbers scattered over every US area code and exchange (but premium-rate
    and service numbers, which a campaign refuses by default)."""
    from dialer.phones import InvalidNumberError, normalize_number, special_number_reason

    def ordinary(number: str) -> bool:
        valid = _is_valid(number, normalize_number, InvalidNumberError)
        return valid and special_number_reason(number) is None

    area_codes = [code for code in range(201, 990) if ordinary(f"+1{code}2345678")]
    space = len(area_codes) * 8_000_000  # exchanges 200-999, lines 0000-9999
    step = 2_654_435_761 % space  # coprime with the space (checked below): a permutation
    while math.gcd(step, space) != 1:
        step += 1
    made = 0
    index = 0
    while made < rows:
        slot = index * step % space
        index += 1
        code, rest = divmod(slot, 8_000_000)
        number = f"+1{area_codes[code]}{2_000_000 + rest}"
        if ordinary(number):
            made += 1
            yield number


def _is_valid(number: str, normalize: Any, error: type[Exception]) -> bool:
    try:
        normalize(number)
    except error:
        return False
    return True


def nationwide_national(rows: int) -> Iterator[str]:
    """The nationwide numbers as people type them: (415) 555-0123, with default_region US."""
    for number in nationwide(rows):
        yield f"({number[2:5]}) {number[5:8]}-{number[8:]}"


SPREADS = {
    "one-area-code": one_area_code,
    "nationwide": nationwide,
    "national-form": nationwide_national,
}


def generate(rows: int, spread: str, folder: Path) -> Path:
    leads = folder / f"leads-{rows}-{spread}.csv"
    with leads.open("w") as out:
        out.write("lead_id,to_number,first_name,plan,renewal_date\n")
        for i, number in enumerate(SPREADS[spread](rows)):
            out.write(f"L{i},{number},Name{i % 977},Plus,2027-04-{1 + i % 28:02d}\n")
    campaign = folder / f"bench-{rows}-{spread}.yaml"
    campaign.write_text(
        f"name: bench-{rows}\nfrom_number: '+14155550100'\nleads: {leads.name}\n"
        "dynamic_variables: {company: Acme}\ndefault_region: US\n"
    )
    return campaign


def child(campaign: str, url: str) -> None:
    from dialer.inputs.campaign_file import read_campaign_file
    from dialer.operations.loading import import_campaign
    from dialer.store import open_store

    async def go() -> dict[str, float]:
        store = await open_store(url)
        try:
            started = time.perf_counter()
            result = await import_campaign(store, read_campaign_file(Path(campaign)))
            first = time.perf_counter() - started
            started = time.perf_counter()
            again = await import_campaign(store, read_campaign_file(Path(campaign)))
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
    parser.add_argument("--spread", choices=sorted(SPREADS), action="append")
    parser.add_argument("--child", nargs=2, metavar=("CAMPAIGN", "URL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = args.rows or [100_000, 1_000_000]
    spreads = args.spread or list(SPREADS)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for rows, spread in itertools.product(sizes, spreads):
            campaign = generate(rows, spread, folder)
            targets: list[tuple[str, str, str | None]] = [
                ("sqlite", f"sqlite+aiosqlite:///{folder}/bench-{rows}-{spread}.db", None)
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
                results.append((rows, spread, kind, data))
                if dbname:
                    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    print(
        f"{'rows':>9} {'numbers':<13} {'store':<9} {'load s':>7} {'rows/s':>8}"
        f" {'reload s':>8} {'peak RSS MB':>11}"
    )
    for rows, spread, kind, d in results:
        print(
            f"{rows:>9,} {spread:<13} {kind:<9} {d['seconds']:>7.1f}"
            f" {d['rows'] / d['seconds']:>8,.0f} {d['reload_seconds']:>8.1f}"
            f" {d['peak_rss_mb']:>11.0f}"
        )


if __name__ == "__main__":
    main()
