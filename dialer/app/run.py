"""`dialer run` and `dialer load`: validate, load (printing what changed), and run one
campaign to the end with a progress display and, on request, its dashboard."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
import anyio.abc
import structlog
from rich.console import Console

from dialer.app.common import (
    UsageError,
    pusher_lease,
    retell_client,
    reveal,
    watch_signals,
    worker_id,
)
from dialer.dialing.clock import Clock
from dialer.dialing.options import FollowMode, RunOptions, RunOutcome, RunResult
from dialer.dialing.runner import CampaignRunner
from dialer.domain.goal import unused_goal
from dialer.domain.list_edits import LoadReport
from dialer.domain.pacing import prior_warning
from dialer.domain.results_push import missing_secret
from dialer.http.app import Monitoring, create_app
from dialer.http.binding import DEFAULT_HOST, bound_port, host_port, listening_socket
from dialer.http.server import Limits, serve
from dialer.inputs.campaign_file import CampaignSource, read_campaign_file
from dialer.observability.metrics import METRICS
from dialer.operations.loading import import_campaign
from dialer.operations.steering import open_for_run, reopen_if_new_leads
from dialer.reporting.results_push import ResultsPusher
from dialer.reporting.status import read_status
from dialer.reporting.terminal import RunProgress, print_summary
from dialer.retell import DEFAULT_READS_PER_SECOND, RetellClient
from dialer.retell.settings import ApiKey, RetellSettings
from dialer.store import DEFAULT_OUTAGE_SECONDS, Store, open_store

log = structlog.get_logger("dialer")
# How long `dialer run` goes on delivering its campaign's results once the campaign is done
# (what is still pending then, any later worker or run delivers).
DRAIN_VARIABLE = "DIALER_RESULTS_DRAIN_SECONDS"
DEFAULT_DRAIN_SECONDS = 15.0


@dataclass
class RunConfig:
    campaign_file: str
    database_url: str | None
    retell: RetellSettings | None
    simulate: bool = False
    speed: float = 1.0
    lease_seconds: float = 30.0
    store_outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    follow: FollowMode = FollowMode.LIST
    api_reads_per_second: float = DEFAULT_READS_PER_SECOND
    http_port: int | None = None  # serve the dashboard, /metrics and /healthz on it
    http_host: str = DEFAULT_HOST
    http_token: ApiKey | None = None  # DIALER_HTTP_TOKEN: guards the dashboard and /metrics
    progress: bool = True  # a live display on a terminal
    json_logs: bool = False
    exit_on_pause: bool = False  # end (exit 1) when the campaign is paused, not wait
    clock: Clock = field(default_factory=Clock)


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


def with_notes(report: LoadReport, source: CampaignSource) -> LoadReport:
    """The load's report with what else a person should know of the campaign file."""
    settings = source.campaign
    found = (
        prior_warning(settings.budget_usd, settings.cost_per_minute),
        unused_goal(settings.goal, len(settings.variants)),
        # the loading machine may not be a delivering one: a warning, as `validate` gives
        missing_secret(settings.results_webhook, os.environ),
    )
    notes = tuple(note for note in found if note is not None)
    return replace(report, notes=(*report.notes, *notes)) if notes else report


async def load_campaign(campaign_file: str, database_url: str | None) -> LoadReport:
    """`dialer load`: validate and load (or update) a campaign into the store, no dialing."""
    source = read_campaign_file(Path(campaign_file))
    store = await open_store(database_url)
    try:
        imported = await import_campaign(store, source)
        await reopen_if_new_leads(store, imported.campaign_id)  # workers dial the new rows
        return with_notes(imported.report, source)
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
                waiting_by_reason=summary.waiting_by_reason,  # a cap, a ceiling, the hook
                waiting_for_retell=runner.client.unreachable is not None,
                paused=stats.paused,
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
            if summary.waiting_by_reason and not summary.live_attempts:
                why = ", ".join(f"{r} {n:,}" for r, n in summary.waiting_by_reason.items())
                notes.append(f"waiting: {why}")
            bar.update(
                summary,
                stats.dial_rate(),
                stats.waiting_for_window,
                stats.next_window,
                notes,
                waiting_for_retell=runner.client.unreachable is not None,
            )
            await anyio.sleep(0.5)


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
        monitoring=Monitoring(alive, ready, this_campaign), token=reveal(config.http_token)
    )
    url = f"http://{host_port(config.http_host, bound_port(sock))}/"
    log.info("dashboard", url=url, token_required=config.http_token is not None)
    await serve(app, sock, Limits().for_process(listeners=1))


async def _drain_results(pusher: ResultsPusher, campaign_id: int) -> None:
    """The campaign's results not delivered yet, for a few more seconds before exiting."""
    seconds = float(os.environ.get(DRAIN_VARIABLE) or DEFAULT_DRAIN_SECONDS)
    left = await pusher.drain(campaign_id, seconds)
    if left:
        log.warning(
            "results_pending",
            events=left,
            hint="not delivered yet; any `dialer worker` or `dialer run` delivers them",
        )


def _for_campaign(campaign_id: int, wake: Callable[[], None]) -> Callable[[int], None]:
    def freed(freed_campaign: int) -> None:
        if freed_campaign == campaign_id:
            wake()

    return freed


async def run_campaign(config: RunConfig) -> tuple[RunResult, int | None]:
    """`dialer run`: validate, load, run to the end. Returns the result and a signal, if any."""
    source = read_campaign_file(Path(config.campaign_file))
    unset = missing_secret(source.campaign.results_webhook, os.environ)
    if unset is not None:
        raise UsageError(f"{config.campaign_file}: {unset}")
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
        show_load(
            with_notes(imported.report, source), None if config.json_logs else Console(stderr=True)
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
            wait_while_paused=not config.exit_on_pause,
            heartbeat=True,
        )
        async with retell_client(
            config.retell, config.simulate, config.speed, config.api_reads_per_second
        ) as client:
            runner = CampaignRunner(store, client, row, options)
            pusher = ResultsPusher(
                store, options.worker_id, lease_seconds=pusher_lease(config.lease_seconds)
            )
            async with anyio.create_task_group() as group:
                group.start_soon(pusher.run)  # beside the dialing, never in its way
                group.start_soon(watch_signals, runner.stop, received)
                if config.progress:
                    group.start_soon(_show_progress, runner, store, console)
                group.start_soon(
                    store.watch_freed_slots,
                    _for_campaign(row.id, runner.slot_freed),
                    _for_campaign(row.id, runner.ends_seen),
                )
                if sock is not None:
                    group.start_soon(_serve_run_dashboard, config, store, row.name, sock, client)
                result = await runner.run()
                group.cancel_scope.cancel()
        if result.outcome is RunOutcome.FINISHED:
            await store.finish_if_done(row.id)
        if source.campaign.results_webhook is not None and not received:
            await _drain_results(pusher, row.id)
        print_summary(Console(), row.name, await store.summary(row.id))
        return replace(result, campaign=row.name), (received[0] if received else None)
    finally:
        await store.close()
