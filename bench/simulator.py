"""Simulator throughput: create + get requests per second on loopback.

    python bench/simulator.py [--seconds 10] [--clients 64] [--loaders 2]

The simulator runs as `dialer simulator` in its own process; load comes from `--loaders`
processes, each with `--clients` concurrent keep-alive connections doing create then get
(a raw-socket client: httpx itself costs ~1 ms of CPU per request and would be the bottleneck).
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, await reader.readexactly(length)


async def load(url: str, seconds: float, clients: int) -> dict[str, float]:
    """A lean keep-alive HTTP/1.1 client (raw asyncio streams), so the load generator costs
    little next to the simulator it measures."""
    host, port = url.removeprefix("http://").split(":")
    done = {"create": 0, "get": 0, "errors": 0}
    deadline = time.perf_counter() + seconds
    auth = b"Authorization: Bearer sim-key\r\n"

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            to = f"+1212{(n * 100_000 + i) % 8_000_000 + 2_000_000:07d}"
            body = json.dumps(
                {
                    "from_number": "+14155550100",
                    "to_number": to,
                    "metadata": {"attempt_id": uuid.uuid4().hex},
                }
            ).encode()
            status, answer = await _request(
                reader,
                writer,
                (
                    b"POST /v2/create-phone-call HTTP/1.1\r\nHost: sim\r\n"
                    + auth
                    + b"Content-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                ),
            )
            if status != 201:
                done["errors"] += 1
                continue
            done["create"] += 1
            call_id = json.loads(answer)["call_id"]
            status, _ = await _request(
                reader,
                writer,
                (f"GET /v2/get-call/{call_id} HTTP/1.1\r\nHost: sim\r\n".encode() + auth + b"\r\n"),
            )
            done["get" if status == 200 else "errors"] += 1
        writer.close()

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
