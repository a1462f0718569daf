"""Wiring for the long-running commands: store + Retell client (or simulator) + runner,
signals, and the live display. The CLI parses flags and calls in here."""

from __future__ import annotations

import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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
from dialer.domain.states import CampaignStatus
from dialer.exit_codes import for_signal
from dialer.health import WorkerHealth
from dialer.importer import import_campaign
from dialer.inputs.campaign_file import read_campaign_file
from dialer.metrics import METRICS, observe_api_call
from dialer.retell import DEFAULT_READS_PER_SECOND, RetellClient
from dialer.service import serve_metrics, serve_webhooks
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
    progress: bool = True  # a live display on a terminal
    json_logs: bool = False
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
            bar.update(
                summary,
                stats.dial_rate(),
                stats.waiting_for_window,
                stats.next_window,
                waiting_for_retell=runner.client.unreachable is not None,
            )
            await anyio.sleep(0.5)


async def _serve_run_dashboard(
    config: RunConfig,
    store: Store,
    name: str,
    client: RetellClient,
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """`dialer run --http-port N`: its campaign's dashboard, /metrics, /healthz and /readyz
    (that, and Retell reachable)."""
    assert config.http_port is not None

    async def this_campaign() -> list[dict[str, object]]:
        return [view.as_json() for view in await read_status(store, name, config.clock.now())]

    async def alive() -> tuple[bool, dict[str, object]]:
        return not store.availability.is_down, {"campaign": name}

    async def ready() -> tuple[bool, dict[str, object]]:
        healthy, details = await alive()
        cause = client.unreachable
        details["retell"] = "ok" if cause is None else f"unreachable: {cause}"
        return healthy and cause is None, details

    async with anyio.create_task_group() as group:
        bound = await group.start(serve_metrics, config.http_port, alive, ready, this_campaign)
        log.info("dashboard", url=f"http://127.0.0.1:{bound}/")
        task_status.started(bound)


def _for_campaign(campaign_id: int, wake: Callable[[], None]) -> Callable[[int], None]:
    def freed(freed_campaign: int) -> None:
        if freed_campaign == campaign_id:
            wake()

    return freed


async def run_campaign(config: RunConfig) -> tuple[RunResult, int | None]:
    """`dialer run`: validate, load, run to the end. Returns the result and a signal, if any."""
    source = read_campaign_file(Path(config.campaign_file))
    store = await open_store(config.database_url, outage_seconds=config.store_outage_seconds)
    store.availability.listen(METRICS.store_changed)
    console = Console(stderr=True) if config.progress and sys.stderr.isatty() else None
    try:
        imported = await import_campaign(store, source)
        log.info(
            "campaign_loaded",
            campaign=source.campaign.name,
            leads=imported.leads_in_file,
            added=imported.added,
            suppressed=imported.suppressed,
            unchanged=imported.unchanged,
        )
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
        )
        async with retell_client(
            config.retell, config.simulate, config.speed, config.api_reads_per_second
        ) as client:
            await client.check_reachable()  # a wrong RETELL_BASE_URL: one line, nothing claimed
            runner = CampaignRunner(store, client, row, options)
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_signals, runner.stop, received)
                if config.progress:
                    group.start_soon(_show_progress, runner, store, console)
                group.start_soon(store.watch_freed_slots, _for_campaign(row.id, runner.slot_freed))
                if config.http_port is not None:
                    await group.start(_serve_run_dashboard, config, store, row.name, client)
                result = await runner.run()
                group.cancel_scope.cancel()
        if result.outcome is RunOutcome.FINISHED:
            await store.set_status(row.id, CampaignStatus.FINISHED)
        print_summary(Console(), row.name, await store.summary(row.id))
        return result, (received[0] if received else None)
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
    metrics_port: int | None = None
    webhook_port: int | None = None
    scan_seconds: float = 2.0
    grace_seconds: float = 5.0
    clock: Clock = field(default_factory=Clock)


def _write_port_file(port: int) -> None:
    """Where the image's HEALTHCHECK finds the port this worker serves (DIALER_PORT_FILE)."""
    path = os.environ.get(PORT_FILE_VARIABLE)
    if path:
        Path(path).write_text(f"{port}\n", encoding="utf-8")


async def run_worker(config: WorkerConfig) -> tuple[str | None, int | None]:
    """`dialer worker`: serve the store's campaigns until a signal. Returns (fatal, signal)."""
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

            async with anyio.create_task_group() as group:
                group.start_soon(_watch_signals, worker.stop, received)
                if config.metrics_port is not None:

                    async def every_campaign() -> list[dict[str, object]]:
                        views = await read_status(store, None, config.clock.now())
                        return [view.as_json() for view in views]

                    bound = await group.start(
                        serve_metrics,
                        config.metrics_port,
                        health.live,
                        health.ready,
                        every_campaign,
                    )
                    _write_port_file(bound)
                if config.webhook_port is not None:
                    api_key = config.retell.api_key.reveal()
                    await group.start(
                        serve_webhooks, config.webhook_port, api_key, worker.on_call_event
                    )
                await worker.serve()
                group.cancel_scope.cancel()
            return worker.fatal, (received[0] if received else None)
    finally:
        await store.close()
