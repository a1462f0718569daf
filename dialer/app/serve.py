"""`dialer serve`: the HTTP API alone, no dialing — for a front door apart from the workers
(several may run; every one reads the same store). It serves the API at /v1 with its
document and docs, the dashboard with its controls, `/status.json`, `/metrics` and the probes
(`/healthz`, `/readyz`: the store answers)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace

import anyio
import structlog

from dialer.app.common import reveal, watch_signals
from dialer.app.worker import write_port_file
from dialer.dialing.clock import Clock
from dialer.http.api import ALLOWANCES, api_routes
from dialer.http.app import Monitoring, create_app
from dialer.http.binding import DEFAULT_HOST, bound_port, host_port, listening_socket
from dialer.http.server import Limits, serve
from dialer.observability.metrics import METRICS
from dialer.reporting.status import read_status
from dialer.retell.settings import ApiKey
from dialer.store import DEFAULT_OUTAGE_SECONDS, Store, open_store

log = structlog.get_logger("dialer")
DEFAULT_PORT = 8000


@dataclass
class ServeConfig:
    database_url: str | None
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    http_token: ApiKey | None = None  # DIALER_HTTP_TOKEN: guards the dashboard and /metrics
    store_outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    clock: Clock = field(default_factory=Clock)


async def serve_api(config: ServeConfig) -> int | None:
    """Serve until SIGINT/SIGTERM; returns the signal."""
    with listening_socket(config.host, config.port, "--port") as sock:
        store = await open_store(config.database_url, outage_seconds=config.store_outage_seconds)
        store.availability.listen(METRICS.store_changed)
        try:
            return await _serve(config, store, sock)
        finally:
            await store.close()


async def _serve(config: ServeConfig, store: Store, sock: socket.socket) -> int | None:
    async def live() -> tuple[bool, dict[str, object]]:
        if store.availability.is_down:
            return False, {"store": f"down: {store.availability.reason}"}
        try:
            with anyio.fail_after(2):
                await store.ping()
        except Exception as exc:  # any failure to answer is "unhealthy"
            return False, {"store": type(exc).__name__}
        return True, {"store": "ok"}

    async def every_campaign() -> list[dict[str, object]]:
        return [view.as_json() for view in await read_status(store, None, config.clock.now())]

    app = create_app(
        monitoring=Monitoring(live, live, every_campaign, controls=True),
        token=reveal(config.http_token),
        routes=api_routes(store, config.clock.now),
    )
    limits = replace(Limits().for_process(listeners=1), allowances=ALLOWANCES)
    received: list[int] = []
    stopped = anyio.Event()
    write_port_file(bound_port(sock))  # for the image's HEALTHCHECK, as a worker does
    log.info(
        "http_listening",
        url=f"http://{host_port(config.host, bound_port(sock))}/",
        serves=["api", "monitoring"],
        max_connections=limits.max_connections,
    )
    async with anyio.create_task_group() as group:
        group.start_soon(watch_signals, stopped.set, received)
        group.start_soon(serve, app, sock, limits)
        await stopped.wait()
        group.cancel_scope.cancel()
    return received[0] if received else None
