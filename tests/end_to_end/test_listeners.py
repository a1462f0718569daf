"""The listeners as a person meets them, in real processes: a worker under a flood of idle
connections with few descriptors keeps running and answering its probes; a port in use is one
line and exit 1 for every command that listens; `--host` binds where it is told (loopback by
default); the HTTP token guards /metrics and never reaches the log."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from dialer.http.binding import bound_port, listening_socket
from dialer.simulator import SimulatedRetell, run_simulator_in_thread

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.slow
TOKEN = "flood-test-token-0f9a"
FLOOD = 1100
OPEN_FILES = 256  # the worker's descriptor limit: far fewer than the flood
# `dialer` with RLIMIT_NOFILE lowered first, as a container's ulimit would.
LIMITED = (
    "import resource, sys; "
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({OPEN_FILES}, {OPEN_FILES})); "
    "sys.argv = ['dialer', *sys.argv[1:]]; "
    "from dialer.cli import main; main()"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _worker(
    tmp_path: Path, *flags: str, limited: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    with run_simulator_in_thread(SimulatedRetell(seed=1)) as simulator:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'listeners.db'}",
            "RETELL_BASE_URL": simulator.url,
            "RETELL_API_KEY": "sim-key",
            "DIALER_HTTP_TOKEN": TOKEN,
        }
        env.pop("DIALER_HTTP_HOST", None)
        command = ["-c", LIMITED] if limited else ["-m", "dialer"]
        worker = subprocess.Popen(
            [sys.executable, *command, "worker", *flags],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "worker.log").open("wb"),
        )
        try:
            yield worker
        finally:
            worker.terminate()
            worker.wait(20)


def _healthy(url: str, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = httpx.get(f"{url}/healthz", timeout=5)
            if answer.status_code == 200 or time.monotonic() > deadline:
                return answer
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _enough_descriptors_here() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 500
    if soft < wanted:
        if 0 <= hard < wanted:
            pytest.skip(f"this test opens {FLOOD} connections; the open-files limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def test_a_flood_of_idle_connections_does_not_knock_a_worker_over(tmp_path: Path) -> None:
    """1,100 connections that never send a byte, against a worker allowed 256 descriptors
    (it used to die with `OSError: [Errno 24] Too many open files`, exit 1)."""
    _enough_descriptors_here()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "worker.log"
    with _worker(tmp_path, "--http-port", str(port), limited=True) as worker:
        assert _healthy(url).status_code == 200, log.read_text()[-3000:]
        with ExitStack() as flood:
            for _ in range(FLOOD):
                idle = flood.enter_context(socket.create_connection(("127.0.0.1", port), 10))
                idle.settimeout(10)
            during = httpx.get(f"{url}/healthz", timeout=10)
            assert during.status_code == 200, during.text  # idle connections made room
            assert worker.poll() is None
        after = _healthy(url)
        assert after.status_code == 200 and after.json()["store"] == "ok"
        metrics = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert metrics.status_code == 200 and "dialer_store_up 1.0" in metrics.text
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert worker.poll() is None
    text = log.read_text()
    assert "Too many open files" not in text and "Traceback" not in text, text[-3000:]
    assert TOKEN not in text


# A listener in a process allowed 64 descriptors, which on a line from its stdin takes every
# descriptor left (so accept() fails with EMFILE) and on the next line lets them go.
STARVED = """
import os, resource, sys
import anyio
from dialer.http.app import Monitoring, create_app
from dialer.http.binding import bound_port, listening_socket
from dialer.http.server import Limits, serve
from dialer.observability.logs import configure_logging

async def ok():
    return True, {}

async def main():
    configure_logging("json")
    sock = listening_socket("127.0.0.1", 0)
    print(bound_port(sock), flush=True)
    async with anyio.create_task_group() as group:
        app = create_app(monitoring=Monitoring(ok, ok))
        group.start_soon(serve, app, sock, Limits(max_connections=16))
        await anyio.to_thread.run_sync(sys.stdin.readline)
        hogs = []
        while True:
            try:
                hogs.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        print("full", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        for hog in hogs:
            os.close(hog)
        await anyio.sleep_forever()

resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
anyio.run(main)
"""


def test_accept_failing_for_want_of_descriptors_is_survived(tmp_path: Path) -> None:
    """Every descriptor taken: accept() fails with EMFILE; the listener logs it, tries again,
    and answers the waiting request once descriptors are free."""
    log = tmp_path / "starved.log"
    server = subprocess.Popen(
        [sys.executable, "-c", STARVED],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        assert _healthy(url).status_code == 200
        server.stdin.write("take every descriptor\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "full"
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), 10) as waiting:
            waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            deadline = time.monotonic() + 20
            while b"out of system resource" not in log.read_bytes():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert server.poll() is None
            server.stdin.write("let them go\n")
            server.stdin.flush()
            waiting.settimeout(20)
            assert waiting.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert server.poll() is None
    finally:
        server.kill()
        server.wait(10)


def _dialer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        env={**os.environ, "RETELL_API_KEY": "sim-key", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{campaign}", "--simulate", "--no-progress", "--http-port", "{port}"],
        ["worker", "--metrics-port", "{port}"],
        ["worker", "--webhook-port", "{port}"],
        ["worker", "--http-port", "{port}"],
        ["simulator", "--port", "{port}"],
    ],
    ids=["run", "worker-metrics", "worker-webhooks", "worker-http", "simulator"],
)
def test_a_port_in_use_is_one_line_and_exit_1(command: list[str], tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, numbers(2), name="busy-port")
    with listening_socket("127.0.0.1", 0) as taken:
        port = bound_port(taken)
        args = [part.format(campaign=campaign, port=port) for part in command]
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ports.db'}"}
        done = _dialer(*args, env=env)
    flag = next(part for part in command if part.endswith("port"))
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"cannot listen on 127.0.0.1:{port} ({flag}): the port is already in use; "
        f"stop what listens there or choose another {flag}"
    ]
    assert not (tmp_path / "ports.db").exists() or command[0] == "simulator"


def test_listeners_bind_loopback_by_default_and_where_host_says(tmp_path: Path) -> None:
    metrics, webhooks = _free_port(), _free_port()
    with _worker(tmp_path, "--metrics-port", str(metrics), "--webhook-port", str(webhooks)):
        assert _healthy(f"http://127.0.0.1:{metrics}").status_code == 200
        with pytest.raises(httpx.ConnectError):  # another loopback address: not bound there
            httpx.get(f"http://127.0.0.2:{metrics}/healthz", timeout=5)
        assert httpx.get(f"http://127.0.0.1:{webhooks}/healthz").status_code == 404
    port = _free_port()
    with _worker(tmp_path, "--http-port", str(port), "--host", "127.0.0.2"):
        assert _healthy(f"http://127.0.0.2:{port}").status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    logged = (tmp_path / "worker.log").read_text()
    assert f'"url": "http://127.0.0.2:{port}/"' in logged


def test_a_host_that_is_not_this_machine_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """Binding only: nothing is sent to the address (TEST-NET-1, never assigned)."""
    done = _dialer(
        "worker",
        "--http-port",
        "0",
        "--host",
        "192.0.2.1",
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'host.db'}"},
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "cannot listen on 192.0.2.1:0 (--http-port): that is not an address of this machine; "
        "check --host (DIALER_HTTP_HOST)"
    ]
