"""Simulator throughput: create + get requests per second on loopback.

    python bench/simulator.py [--seconds 10] [--clients 64] [--loaders 2]

The simulator runs as `dialer simulator` in its own process; load comes from `--loaders`
processes, each with `--clients` concurrent keep-alive connections doing create then get.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import subprocess
import sys
import time
import uuid

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(url: str, seconds: float, clients: int) -> dict[str, float]:
    done = {"create": 0, "get": 0, "errors": 0}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=10, headers={"Authorization": "Bearer sim-key"}
    ) as http:

        async def worker(n: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                i += 1
                to = f"+1212{(n * 100_000 + i) % 8_000_000 + 2_000_000:07d}"
                created = await http.post(
                    "/v2/create-phone-call",
                    json={
                        "from_number": "+14155550100",
                        "to_number": to,
                        "metadata": {"attempt_id": uuid.uuid4().hex},
                    },
                )
                if created.status_code != 201:
                    done["errors"] += 1
                    continue
                done["create"] += 1
                got = await http.get(f"/v2/get-call/{created.json()['call_id']}")
                done["get" if got.status_code == 200 else "errors"] += 1

        await asyncio.gather(*(worker(n) for n in range(clients)))
    return {k: float(v) for k, v in done.items()}


def loader(url: str, seconds: float, clients: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(asyncio.run(load(url, seconds, clients)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--loaders", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialer",
            "simulator",
            "--port",
            str(port),
            "--speed",
            "1",
            "--concurrency-limit",
            "10000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # the startup line
        url = f"http://127.0.0.1:{port}"
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        procs = [
            multiprocessing.Process(target=loader, args=(url, args.seconds, args.clients, queue))
            for _ in range(args.loaders)
        ]
        started = time.perf_counter()
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    creates = sum(r["create"] for r in results)
    gets = sum(r["get"] for r in results)
    errors = sum(r["errors"] for r in results)
    print(
        json.dumps({"seconds": round(elapsed, 1), "loaders": args.loaders, "clients": args.clients})
    )
    print(f"{'requests':>10} {'req/s':>8} {'creates/s':>10} {'gets/s':>8} {'errors':>7}")
    print(
        f"{creates + gets:>10,.0f} {(creates + gets) / elapsed:>8,.0f} {creates / elapsed:>10,.0f}"
        f" {gets / elapsed:>8,.0f} {errors:>7,.0f}"
    )


if __name__ == "__main__":
    main()
