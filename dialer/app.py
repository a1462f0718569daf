"""Wiring for the long-running commands: store + Retell client (or simulator) + runner,
signals, and the live display. The CLI parses flags and calls in here."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog
from rich.console import Console
from rich.live import Live
from rich.text import Text

from dialer.campaign import load_campaign
from dialer.clock import Clock
from dialer.display import print_summary, progress_line, window_note
from dialer.load import load_campaign_into_store
from dialer.retell import RetellClient
from dialer.runner import CampaignRunner, RunOptions, RunOutcome, RunResult
from dialer.settings import ApiKey, RetellSettings
from dialer.simulator import SimulatedRetell, SimulatorServer
from dialer.store import Store, open_store

log = structlog.get_logger("dialer")

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


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
    speed: float = 600.0
    lease_seconds: float = 30.0
    progress: bool = True  # a live display on a terminal
    json_logs: bool = False
    clock: Clock = field(default_factory=Clock)


@asynccontextmanager
async def retell_client(
    retell: RetellSettings | None, simulate: bool, speed: float
) -> AsyncIterator[RetellClient]:
    """A client for Retell, or for an in-process simulator on loopback."""
    if simulate:
        engine = SimulatedRetell(api_key="sim-key", speed=speed, concurrency_limit=100)
        async with SimulatorServer(engine) as server:
            log.info("simulator_started", url=server.url, speed=speed)
            async with RetellClient(ApiKey("sim-key"), server.url) as client:
                yield client
        return
    if retell is None:
        raise UsageError("RETELL_API_KEY is not set (or use --simulate to try the simulator)")
    async with RetellClient(retell.api_key, retell.base_url) as client:
        yield client


async def _watch_signals(runner_stop: list[CampaignRunner], received: list[int]) -> None:
    """First SIGINT/SIGTERM: a clean stop. Second: exit at once (the store is consistent)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if received:
                os._exit(EXIT_BY_SIGNAL.get(signal.Signals(signum), 1))
            received.append(signum)
            log.warning(
                "stopping",
                signal=signal.Signals(signum).name,
                hint="in-flight requests finish; send again to exit at once",
            )
            for runner in runner_stop:
                runner.stop()


async def _show_progress(runner: CampaignRunner, store: Store, console: Console | None) -> None:
    started = time.monotonic()
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
            )
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        while True:
            summary = await store.summary(runner.row.id)
            stats = runner.stats
            window = window_note(stats.waiting_for_window, stats.next_window)
            line = progress_line(runner.row.name, summary, cap, stats.dial_rate(), started, window)
            live.update(Text(line))
            await anyio.sleep(0.5)


async def run_campaign(config: RunConfig) -> tuple[RunResult, int | None]:
    """`dialer run`: validate, load, run to the end. Returns the result and a signal, if any."""
    loaded = load_campaign(Path(config.campaign_file))
    store = await open_store(config.database_url)
    console = Console(stderr=True) if config.progress and sys.stderr.isatty() else None
    try:
        load = await load_campaign_into_store(store, loaded)
        log.info(
            "campaign_loaded",
            campaign=loaded.campaign.name,
            leads=load.leads_in_file,
            added=load.added,
            suppressed=load.suppressed,
        )
        row = await store.campaign(load.campaign_id)
        assert row is not None
        if row.status == "paused":
            return RunResult(RunOutcome.PAUSED, row.status_reason or "paused"), None
        if row.status == "cancelled":
            return RunResult(RunOutcome.CANCELLED, row.status_reason or "cancelled"), None
        if row.status == "finished":
            await store.set_status(row.id, "active")
            row = await store.campaign(row.id)
            assert row is not None
        received: list[int] = []
        time_scale = config.speed
        options = RunOptions(
            worker_id=worker_id(),
            lease_seconds=config.lease_seconds,
            time_scale=time_scale,
            clock=config.clock,
        )
        async with retell_client(config.retell, config.simulate, config.speed) as client:
            runner = CampaignRunner(store, client, row, options)
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_signals, [runner], received)
                if config.progress:
                    group.start_soon(_show_progress, runner, store, console)
                result = await runner.run()
                group.cancel_scope.cancel()
        if result.outcome is RunOutcome.FINISHED:
            await store.set_status(row.id, "finished")
        print_summary(Console(), row.name, await store.summary(row.id))
        return result, (received[0] if received else None)
    finally:
        await store.close()
