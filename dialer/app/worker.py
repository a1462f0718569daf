"""`dialer worker`: every active campaign in the store until a signal, with its listeners
(probes, metrics, dashboard, webhooks, the HTTP API) as its port flags ask."""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
import anyio.abc
import structlog
from starlette.routing import BaseRoute

from dialer.app.common import pusher_lease, retell_client, reveal, watch_signals, worker_id
from dialer.app.health import WorkerHealth
from dialer.dialing.clock import Clock
from dialer.dialing.options import FollowMode, RunOptions, RunResult
from dialer.dialing.worker import Worker
from dialer.http.api import ALLOWANCES, api_routes
from dialer.http.app import Monitoring, Webhooks, create_app
from dialer.http.binding import DEFAULT_HOST, bound_port, host_port, listening_socket
from dialer.http.server import Limits, serve
from dialer.observability.metrics import METRICS
from dialer.reporting.results_push import ResultsPusher
from dialer.reporting.status import read_status
from dialer.retell import DEFAULT_READS_PER_SECOND
from dialer.retell.settings import ApiKey, RetellSettings
from dialer.store import DEFAULT_OUTAGE_SECONDS, open_store

log = structlog.get_logger("dialer")
PORT_FILE_VARIABLE = "DIALER_PORT_FILE"


@dataclass
class WorkerConfig:
    database_url: str | None
    retell: RetellSettings
    lease_seconds: float = 30.0
    store_outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    follow: FollowMode = FollowMode.LIST
    api_reads_per_second: float = DEFAULT_READS_PER_SECOND
    speed: float = 1.0
    http_port: int | None = None  # everything below on one port
    metrics_port: int | None = None  # probes, /metrics and the dashboard
    webhook_port: int | None = None  # Retell's events only
    http_host: str = DEFAULT_HOST
    http_token: ApiKey | None = None
    scan_seconds: float = 2.0
    grace_seconds: float = 5.0
    clock: Clock = field(default_factory=Clock)


@dataclass(frozen=True)
class ListenerPlan:
    """One port a worker listens on, what it serves, and the flags that asked for it."""

    port: int
    flags: str
    monitoring: bool
    webhooks: bool

    @property
    def serves_api(self) -> bool:
        """`--http-port` serves the HTTP API too (and the dashboard's controls)."""
        return "--http-port" in self.flags.split("/")

    @property
    def serves(self) -> list[str]:
        named = [name for name in ("monitoring", "webhooks") if getattr(self, name)]
        return [*named, "api"] if self.serves_api else named


def plan_listeners(
    http_port: int | None, metrics_port: int | None, webhook_port: int | None
) -> list[ListenerPlan]:
    """The worker's listeners: `--http-port` serves everything, `--metrics-port` the probes,
    /metrics and the dashboard, `--webhook-port` Retell's events alone (a port open to Retell
    shows nothing else). Flags naming the same port share one listener; port 0 is always
    a listener of its own (any free port)."""
    asked = [
        ("--http-port", http_port, True, True),
        ("--metrics-port", metrics_port, True, False),
        ("--webhook-port", webhook_port, False, True),
    ]
    plans: list[ListenerPlan] = []
    for flag, port, monitoring, webhooks in asked:
        if port is None:
            continue
        same = next((i for i, p in enumerate(plans) if port and p.port == port), None)
        if same is None:
            plans.append(ListenerPlan(port, flag, monitoring, webhooks))
            continue
        was = plans[same]
        plans[same] = ListenerPlan(
            port, f"{was.flags}/{flag}", was.monitoring or monitoring, was.webhooks or webhooks
        )
    return plans


def write_port_file(port: int) -> None:
    """Where the image's HEALTHCHECK finds the port this worker serves (DIALER_PORT_FILE)."""
    path = os.environ.get(PORT_FILE_VARIABLE)
    if path:
        Path(path).write_text(f"{port}\n", encoding="utf-8")


async def run_worker(config: WorkerConfig) -> tuple[RunResult | None, int | None]:
    """`dialer worker`: serve the store's campaigns until a signal. Returns (fatal, signal)."""
    plans = plan_listeners(config.http_port, config.metrics_port, config.webhook_port)
    with ExitStack() as sockets:  # bound first: a port in use stops the worker before it starts
        listeners = [
            (plan, sockets.enter_context(listening_socket(config.http_host, plan.port, plan.flags)))
            for plan in plans
        ]
        return await _run_worker(config, listeners)


def _serve_worker_listeners(
    config: WorkerConfig,
    listeners: list[tuple[ListenerPlan, socket.socket]],
    monitoring: Monitoring,
    webhooks: Webhooks,
    api: list[BaseRoute],
    group: anyio.abc.TaskGroup,
) -> None:
    limits = Limits().for_process(len(listeners))
    token = reveal(config.http_token)
    for plan, sock in listeners:
        app = create_app(
            monitoring=(replace(monitoring, controls=plan.serves_api) if plan.monitoring else None),
            webhooks=webhooks if plan.webhooks else None,
            token=token,
            routes=api if plan.serves_api else (),
        )
        served = replace(limits, allowances=ALLOWANCES) if plan.serves_api else limits
        group.start_soon(serve, app, sock, served)
        port = bound_port(sock)
        log.info(
            "http_listening",
            url=f"http://{host_port(config.http_host, port)}/",
            flags=plan.flags,
            serves=plan.serves,
            max_connections=limits.max_connections,
        )
    monitored = [bound_port(sock) for plan, sock in listeners if plan.monitoring]
    if monitored:
        write_port_file(monitored[0])


async def _run_worker(
    config: WorkerConfig, listeners: list[tuple[ListenerPlan, socket.socket]]
) -> tuple[RunResult | None, int | None]:
    store = await open_store(config.database_url, outage_seconds=config.store_outage_seconds)
    store.availability.listen(METRICS.store_changed)
    received: list[int] = []
    try:
        async with retell_client(
            config.retell, False, config.speed, config.api_reads_per_second
        ) as client:
            worker_name = worker_id()

            def options() -> RunOptions:
                return RunOptions(
                    worker_id=worker_name,
                    lease_seconds=config.lease_seconds,
                    speed=config.speed,
                    follow=config.follow,
                    api_reads_per_second=config.api_reads_per_second,
                    grace_seconds=config.grace_seconds,
                    clock=config.clock,
                )

            worker = Worker(store, client, options, scan_seconds=config.scan_seconds)
            log.info("worker_started", worker=worker_name)

            health = WorkerHealth(store, client, worker, config.scan_seconds)

            async def every_campaign() -> list[dict[str, object]]:
                views = await read_status(store, None, config.clock.now())
                return [view.as_json() for view in views]

            monitoring = Monitoring(health.live, health.ready, every_campaign)
            webhooks = Webhooks(config.retell.api_key.reveal(), worker.on_call_event)
            api = (
                api_routes(store, config.clock.now)
                if any(p.serves_api for p, _ in listeners)
                else []
            )
            pusher = ResultsPusher(
                store, worker_name, lease_seconds=pusher_lease(config.lease_seconds)
            )
            async with anyio.create_task_group() as group:
                group.start_soon(watch_signals, worker.stop, received)
                group.start_soon(pusher.run)  # beside the dialing, never in its way
                _serve_worker_listeners(config, listeners, monitoring, webhooks, api, group)
                await worker.serve()
                group.cancel_scope.cancel()
            await store.release_results(worker_name)  # events cut off mid-POST: anyone's now
            return worker.fatal, (received[0] if received else None)
    finally:
        await store.close()
