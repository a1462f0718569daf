"""The HTTP API under load: lead intake and results reads, through `dialer serve` (its own
process) on SQLite and on Postgres.

    python bench/api.py                                   # both stores, the default sizes
    python bench/api.py --stores postgres --leads 100000 --read-leads 1000000

Intake: one CSV request of --leads leads, then --requests requests of --batch leads each
(4 clients at once, as a CRM's workers would send them), each into its own campaign. Reads:
a campaign of --read-leads leads (loaded with `dialer load`, then 1 % of them made `skipped`,
spread over the list), results pages of 100 and 1,000 at its start, middle and end, first
pages of one state (common, rare, absent), and the export's first 100,000 rows streamed. The
database load is what Postgres counted for its database (transactions, rows written, blocks
read from disk or its cache) and the CPU seconds of the server and of every Postgres process
(the machine's, other users' included); SQLite's work is in the server's CPU. Prints tables."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_number, database, free_port, write_campaign, write_leads

EXPORT_ROWS = 100_000  # the export's first rows, streamed: its pace, not its length


def pg_counters(url: str) -> dict[str, float]:
    """What Postgres counted for the database of `url`, and its processes' CPU seconds."""
    name = url.rsplit("/", 1)[1]
    sql = (
        "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, blks_read, blks_hit "
        f"FROM pg_stat_database WHERE datname = '{name}'"
    )
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    commits, written, read, hit = (float(v) for v in out.split("|"))
    cpu = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] and proc.info["name"].startswith("postgres"):
            times = proc.info["cpu_times"]
            cpu += times.user + times.system
    return {"commits": commits, "rows": written, "read": read, "hit": hit, "cpu": cpu}


class Server:
    """`dialer serve` on `url`, with a token."""

    def __init__(self, url: str) -> None:
        self.url = url
        env = {**os.environ, "DATABASE_URL": url}
        self.token = subprocess.run(
            [sys.executable, "-m", "dialer", "token", "create", f"bench{time.time_ns()}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dialer", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("dialer serve did not start")

    def cpu(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=600
        )

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _csv(start: int, count: int) -> str:
    return "lead_id,to_number,first_name\n" + "".join(
        f"L{i},{bench_number(i)},N{i}\n" for i in range(start, start + count)
    )


async def _put(api: httpx.AsyncClient, name: str) -> None:
    answer = await api.put(f"/v1/campaigns/{name}", json={"from_number": "+14155550100"})
    assert answer.status_code in (200, 201), answer.text


async def intake_one(server: Server, leads: int) -> float:
    async with server.client() as api:
        await _put(api, "one")
        body = _csv(0, leads).encode()
        started = time.perf_counter()
        answer = await api.post(
            "/v1/campaigns/one/leads", content=body, headers={"content-type": "text/csv"}
        )
        took = time.perf_counter() - started
    assert answer.status_code == 200 and answer.json()["added"] == leads, answer.text[:500]
    return took


async def intake_many(server: Server, requests: int, batch: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    bodies = [_csv(i * batch, batch).encode() for i in range(requests)]
    async with server.client() as api:
        await _put(api, "many")
        limiter = anyio.Semaphore(4)

        async def send(body: bytes) -> None:
            async with limiter:
                t0 = time.perf_counter()
                answer = await api.post(
                    "/v1/campaigns/many/leads", content=body, headers={"content-type": "text/csv"}
                )
                latencies.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text[:500]

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for body in bodies:
                group.start_soon(send, body)
        return time.perf_counter() - started, latencies


def measured(server: Server, work: Callable[[], Any]) -> tuple[Any, dict[str, float], float]:
    """(work's result, Postgres' counts during it (empty on SQLite), the server's CPU s)."""
    pg = server.url.startswith("postgresql")
    before, cpu = (pg_counters(server.url) if pg else {}), server.cpu()
    result = anyio.run(work)
    if pg:
        time.sleep(1.5)  # backends report their counts to pg_stat_database within a second
    after = pg_counters(server.url) if pg else {}
    return result, {k: after[k] - before[k] for k in after}, server.cpu() - cpu


def _load_row(label: str, seconds: float, leads: int, db: dict[str, float], cpu: float) -> str:
    pg = (
        f"{db['commits']:,.0f} | {db['rows']:,.0f} | {db['read']:,.0f} / {db['hit']:,.0f} | "
        f"{db['cpu']:.1f}"
        if db
        else "— | — | — | —"
    )
    return f"| {label} | {seconds:.1f} | {leads / seconds:,.0f} | {cpu:.1f} | {pg} |"


async def _page_ms(api: httpx.AsyncClient, path: str, params: dict[str, Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        answer = await api.get(path, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, answer.text[:300]
    return statistics.median(times)


async def reads(server: Server, name: str, leads: int) -> list[tuple[str, float]]:
    path = f"/v1/campaigns/{name}/results"
    async with server.client() as api:
        first = (await api.get(path, params={"limit": 1})).json()["items"]
        assert first, "no leads"
        # cursors are lead ids: the campaign's run from its first one
        start = int((await api.get(path, params={"limit": 1})).json()["next_cursor"])
        found: list[tuple[str, float]] = []
        for limit in (100, 1000):
            for where, after in (
                ("start", None),
                ("middle", start + leads // 2),
                ("end", start + leads - limit - 1),
            ):
                params: dict[str, Any] = {
                    "limit": limit,
                    **({"cursor": str(after)} if after else {}),
                }
                found.append(
                    (f"page of {limit:,} at the {where}", await _page_ms(api, path, params, 20))
                )
        for state in ("pending", "skipped", "completed"):
            found.append(
                (f"first page of 100 `{state}`", await _page_ms(api, path, {"state": state}, 20))
            )
        t0 = time.perf_counter()
        rows = 0
        params = {"format": "jsonl"}
        async with api.stream("GET", f"/v1/campaigns/{name}/export", params=params) as streamed:
            async for _line in streamed.aiter_lines():
                rows += 1
                if rows == EXPORT_ROWS:
                    break
        seconds = time.perf_counter() - t0
        assert rows == min(leads, EXPORT_ROWS), rows
        found.append(("export (JSON lines), rows/s", rows / seconds))
    return found


def skip_some(url: str, name: str, share: float) -> None:
    """Give `share` of the campaign's leads another state (`skipped`), spread over the list."""
    if url.startswith("postgresql"):
        db = url.rsplit("/", 1)[1]
        sql = (
            "UPDATE leads SET state = 'skipped' WHERE campaign_id = (SELECT id FROM campaigns "
            f"WHERE name = '{name}') AND id % {round(1 / share)} = 0; ANALYZE leads"
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qc", sql], check=True
        )
    else:
        import sqlite3

        with sqlite3.connect(url.split("///", 1)[1]) as conn:
            conn.execute(f"UPDATE leads SET state = 'skipped' WHERE id % {round(1 / share)} = 0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--read-leads", type=int, default=1_000_000)
    args = parser.parse_args()
    intake_rows = []
    read_rows: dict[str, list[tuple[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in args.stores.split(","):
            url = database(kind, folder, f"api-{kind}")
            server = Server(url)
            try:
                took, db, cpu = measured(server, lambda s=server: intake_one(s, args.leads))
                intake_rows.append(
                    _load_row(f"{kind}: 1 CSV request of {args.leads:,}", took, args.leads, db, cpu)
                )
                (took, latencies), db, cpu = measured(
                    server, lambda s=server: intake_many(s, args.requests, args.batch)
                )
                count = args.requests * args.batch
                label = (
                    f"{kind}: {args.requests:,} requests of {args.batch} "
                    f"(p50 {statistics.median(latencies) * 1000:.0f} ms, "
                    f"p95 {statistics.quantiles(latencies, n=20)[18] * 1000:.0f} ms)"
                )
                intake_rows.append(_load_row(label, took, count, db, cpu))
                leads = write_leads(folder, args.read_leads, 0)
                campaign = write_campaign(folder, leads, "reads", 1, 1)
                subprocess.run(
                    [sys.executable, "-m", "dialer", "load", str(campaign)],
                    env={**os.environ, "DATABASE_URL": url},
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                skip_some(url, "reads", 0.01)
                read_rows[kind] = anyio.run(reads, server, "reads", args.read_leads)
            finally:
                server.close()
    print("\nLead intake through `dialer serve`")
    print(
        "| store and requests | s | leads/s | server CPU s | PG commits | PG rows written "
        "| PG blocks read / hit | PG CPU s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in intake_rows:
        print(row)
    print(f"\nResults reads at {args.read_leads:,} leads (1 % skipped; median of 20, ms)")
    kinds = list(read_rows)
    print("| read | " + " | ".join(kinds) + " |")
    print("| --- |" + " --- |" * len(kinds))
    for i, (label, _) in enumerate(read_rows[kinds[0]]):
        values = [read_rows[k][i][1] for k in kinds]
        shown = [f"{v:,.0f}" if "rows/s" in label else f"{v:.1f}" for v in values]
        print(f"| {label} | " + " | ".join(shown) + " |")


if __name__ == "__main__":
    main()
