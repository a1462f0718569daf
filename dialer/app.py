"""Wiring for the long-running commands: store + Retell client (or simulator) + runner,
signals, and the live display. The CLI parses flags and calls in here."""

from __future__ import annotations

import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
import anyio.abc
import structlog
from rich.console import Console

from dialer.clock import Clock
from dialer.control import open_for_run
from dialer.dialing.options import RunOptions, RunOutcome, RunResult
from dialer.dialing.runner import CampaignRunner
from dialer.dialing.worker import Worker
from dialer.display import RunProgress, print_summary
from dialer.domain.list_edits import LoadReport
from dialer.exit_codes import for_signal
from dialer.health import WorkerHealth
from dialer.http.app import Monitoring, Webhooks, create_app
from dialer.http.binding import DEFAULT_HOST, bound_port, host_port, listening_socket
from dialer.http.server import Limits, serve
from dialer.importer import import_campaign
from dialer.inputs.campaign_file import CampaignSource, read_campaign_file
from dialer.metrics import METRICS, observe_api_call
from dialer.retell import DEFAULT_READS_PER_SECOND, RetellClient
from dialer.settings import ApiKey, RetellSettings
from dialer.simulator import SimulatedRetell, SimulatorServer
from dialer.status import read_status
from dialer.store import DEFAULT_OUTAGE_SECONDS, Store, open_store

log = structlog.get_logger("dialer")
PORT_FILE_VARIABLE = "DIALER_PORT_FILE"


class UsageError(Exception):
    """A problem the user must fix before anything runs (exit 2)."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class RunConfig:
    campaign_file: str
    database_url: str | None
    retell: RetellSettings | None
    simulate: bool = False
    speed: float = 1.0
    lease_seconds: float = 30.0
    store_outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    follow: str = "list"
    api_reads_per_second: float = DEFAULT_READS_PER_SECOND
    http_port: int | None = None  # serve the dashboard, /metrics and /healthz on it
    http_host: str = DEFAULT_HOST
    http_token: ApiKey | None = None  # DIALER_HTTP_TOKEN: guards the dashboard and /metrics
    progress: bool = True  # a live display on a terminal
    json_logs: bool = False
    exit_on_pause: bool = False  # end (exit 1) when the campaign is paused, not wait
    clock: Clock = field(default_factory=Clock)


@asynccontextmanager
async def retell_client(
    retell: RetellSettings | None,
    simulate: bool,
    speed: float,
    reads_per_second: float = DEFAULT_READS_PER_SECOND,
) -> AsyncIterator[RetellClient]:
    """A client for Retell, or for an in-process simulator on loopback. Its read budget is
    `reads_per_second` of the Retell it dials: times `speed` in real seconds."""
    budget = reads_per_second * speed
    if simulate:
        engine = SimulatedRetell(api_key="sim-key", speed=speed, concurrency_limit=100)
        async with SimulatorServer(engine) as server:
            log.info("simulator_started", url=server.url, speed=speed)
            async with RetellClient(
                ApiKey("sim-key"), server.url, reads_per_second=budget
            ) as client:
                yield client
        return
    if retell is None:
        raise UsageError("RETELL_API_KEY is not set (or use --simulate to try the simulator)")
    async with RetellClient(
        retell.api_key, retell.base_url, observe=observe_api_call, reads_per_second=budget
    ) as client:
        yield client


def show_load(report: LoadReport, console: Console | None) -> None:
    """What a load changed: a log line (and one per warning), and on a terminal the same in
    words."""
    log.info(
        "campaign_loaded",
        campaign=report.campaign,
        leads=report.in_file,
        edits={kind.value: n for kind, n in report.edits.items()},
        removed=report.removed,
        rekeyed=report.rekeyed,
        suppressed=report.suppressed,
        unchanged=report.files_unchanged,
        dialed_elsewhere=report.dialed_elsewhere or {},
    )
    for warning in report.warnings():
        log.warning("load_warning", campaign=report.campaign, message=warning)
    if console is not None:
        console.print(report.summary(), highlight=False, markup=False)


async def load_campaign(campaign_file: str, database_url: str | None) -> LoadReport:
    """`dialer load`: validate and load (or update) a campaign into the store, no dialing."""
    source = read_campaign_file(Path(campaign_file))
    store = await open_store(database_url)
    try:
        return (await import_campaign(store, source)).report
    finally:
        await store.close()


async def check_retell(retell: RetellSettings | None) -> None:
    """Raise RetellUnreachableError (one line) unless Retell answers at all."""
    if retell is None:
        raise UsageError("RETELL_API_KEY is not set (or use --simulate to try the simulator)")
    async with RetellClient(
        retell.api_key, retell.base_url, reads_per_second=None, log_reachability=False
    ) as client:
        await client.check_reachable()


async def _watch_signals(stop: Callable[[], None], received: list[int]) -> None:
    """First SIGINT/SIGTERM: a clean stop. Second: exit at once (the store is consistent)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if received:
                os._exit(for_signal(signum))
            received.append(signum)
            log.warning(
                "stopping",
                signal=signal.Signals(signum).name,
                hint="in-flight requests finish; send again to exit at once",
            )
            stop()


async def _show_progress(runner: CampaignRunner, store: Store, console: Console | None) -> None:
    cap = runner.campaign.pacing.max_concurrent_calls
    if console is None:
        while True:
            await anyio.sleep(5)
            summary = await store.summary(runner.row.id)
            stats = runner.stats
            log.info(
                "progress",
                leads=summary.leads_by_state,
                active=summary.live_attempts,
                dial_rate=round(stats.dial_rate(), 2),
                waiting_for_window=stats.waiting_for_window,
                next_window=stats.next_window.isoformat() if stats.next_window else None,
                waiting_for_retell=runner.client.unreachable is not None,
            )
    bar = RunProgress(console, runner.row.name, cap)
    with bar.progress:
        while True:
            summary = await store.summary(runner.row.id)
            stats = runner.stats
            notes = []
            if stats.paused is not None:
                notes.append(f"paused ({stats.paused}): `dialer resume {runner.row.name}`")
            if stats.awaiting_details and not summary.live_attempts:
                notes.append(f"waiting for {stats.awaiting_details} call(s)' analysis and cost")
            bar.update(
                summary,
                stats.dial_rate(),
                stats.waiting_for_window,
                stats.next_window,
                notes,
                waiting_for_retell=runner.client.unreachable is not None,
            )
            await anyio.sleep(0.5)


def _reveal(secret: ApiKey | None) -> str | None:
    return secret.reveal() if secret else None


async def _serve_run_dashboard(
    config: RunConfig, store: Store, name: str, sock: socket.socket, client: RetellClient
) -> None:
    """`dialer run --http-port N`: its campaign's dashboard, /metrics, /healthz and /readyz
    (that, and Retell reachable)."""

    async def this_campaign() -> list[dict[str, object]]:
        return [view.as_json() for view in await read_status(store, name, config.clock.now())]

    async def alive() -> tuple[bool, dict[str, object]]:
        return not store.availability.is_down, {"campaign": name}

    async def ready() -> tuple[bool, dict[str, object]]:
        healthy, details = await alive()
        cause = client.unreachable
        details["retell"] = "ok" if cause is None else f"unreachable: {cause}"
        return healthy and cause is None, details

    app = create_app(
        monitoring=Monitoring(alive, ready, this_campaign), token=_reveal(config.http_token)
    )
    url = f"http://{host_port(config.http_host, bound_port(sock))}/"
    log.info("dashboard", url=url, token_required=config.http_token is not None)
    await serve(app, sock, Limits().for_process(listeners=1))


def _for_campaign(campaign_id: int, wake: Callable[[], None]) -> Callable[[int], None]:
    def freed(freed_campaign: int) -> None:
        if freed_campaign == campaign_id:
            wake()

    return freed


async def run_campaign(config: RunConfig) -> tuple[RunResult, int | None]:
    """`dialer run`: validate, load, run to the end. Returns the result and a signal, if any."""
    source = read_campaign_file(Path(config.campaign_file))
    with ExitStack() as sockets:  # bound first: a port in use stops the run before it starts
        sock = None
        if config.http_port is not None:
            sock = sockets.enter_context(
                listening_socket(config.http_host, config.http_port, "--http-port")
            )
        return await _run_campaign(config, source, sock)


async def _run_campaign(
    config: RunConfig, source: CampaignSource, sock: socket.socket | None
) -> tuple[RunResult, int | None]:
    store = await open_store(config.database_url, outage_seconds=config.store_outage_seconds)
    store.availability.listen(METRICS.store_changed)
    console = Console(stderr=True) if config.progress and sys.stderr.isatty() else None
    try:
        if not config.simulate:  # a wrong RETELL_BASE_URL: one line, before anything is stored
            await check_retell(config.retell)
        imported = await import_campaign(store, source)
        show_load(imported.report, None if config.json_logs else Console(stderr=True))
        loaded_row = await store.campaign(imported.campaign_id)
        assert loaded_row is not None
        row = await open_for_run(store, loaded_row)
        if isinstance(row, RunResult):
            return row, None
        received: list[int] = []
        options = RunOptions(
            worker_id=worker_id(),
            lease_seconds=config.lease_seconds,
            speed=config.speed,
            follow=config.follow,
            api_reads_per_second=config.api_reads_per_second,
            clock=config.clock,
            wait_while_paused=not config.exit_on_pause,
            heartbeat=True,
        )
        async with retell_client(
            config.retell, config.simulate, config.speed, config.api_reads_per_second
        ) as client:
            runner = CampaignRunner(store, client, row, options)
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_signals, runner.stop, received)
                if config.progress:
                    group.start_soon(_show_progress, runner, store, console)
                group.start_soon(store.watch_freed_slots, _for_campaign(row.id, runner.slot_freed))
                if sock is not None:
                    group.start_soon(_serve_run_dashboard, config, store, row.name, sock, client)
                result = await runner.run()
                group.cancel_scope.cancel()
        if result.outcome is RunOutcome.FINISHED:
            await store.finish_if_done(row.id)
        print_summary(Console(), row.name, await store.summary(row.id))
        return replace(result, campaign=row.name), (received[0] if received else None)
    finally:
        await store.close()


@dataclass
class WorkerConfig:
    database_url: str | None
    retell: RetellSettings
    lease_seconds: float = 30.0
    store_outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    follow: str = "list"
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
    def serves(self) -> list[str]:
        return [name for name in ("monitoring", "webhooks") if getattr(self, name)]


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


def _write_port_file(port: int) -> None:
    """Where the image's HEALTHCHECK finds the port this worker serves (DIALER_PORT_FILE)."""
    path = os.environ.get(PORT_FILE_VARIABLE)
    if path:
        Path(path).write_text(f"{port}\n", encoding="utf-8")


async def run_worker(config: WorkerConfig) -> tuple[str | None, int | None]:
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
    group: anyio.abc.TaskGroup,
) -> None:
    limits = Limits().for_process(len(listeners))
    token = _reveal(config.http_token)
    for plan, sock in listeners:
        app = create_app(
            monitoring=monitoring if plan.monitoring else None,
            webhooks=webhooks if plan.webhooks else None,
            token=token,
        )
        group.start_soon(serve, app, sock, limits)
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
        _write_port_file(monitored[0])


async def _run_worker(
    config: WorkerConfig, listeners: list[tuple[ListenerPlan, socket.socket]]
) -> tuple[str | None, int | None]:
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
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_signals, worker.stop, received)
                _serve_worker_listeners(config, listeners, monitoring, webhooks, group)
                await worker.serve()
                group.cancel_scope.cancel()
            return worker.fatal, (received[0] if received else None)
    finally:
        await store.close()
