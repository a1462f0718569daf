"""`dialer worker`: serve every active campaign in the store until stopped.

Any number of workers (and `dialer run` processes) share one store: each campaign gets a
runner in every worker, and the claim transaction keeps both ceilings campaign-wide. A scan
every few seconds starts runners for campaigns that became active (created or resumed) and for
campaigns whose live calls lost their worker; a runner ends when its campaign is finished,
paused or cancelled (after following its calls to their end).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import structlog

from dialer.dialing.options import RunOptions, RunOutcome, RunResult
from dialer.dialing.ports import CallApi, ServingStore
from dialer.dialing.runner import CampaignRunner
from dialer.observability.metrics import METRICS
from dialer.retell.webhooks import CallEvent
from dialer.store import WORKER, CampaignRow

log = structlog.get_logger("dialer.worker")


class Worker:
    """Runners for the store's campaigns, started and ended as the campaigns change."""

    def __init__(
        self,
        store: ServingStore,
        client: CallApi,
        options: Callable[[], RunOptions],
        scan_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.client = client
        self._options = options
        self.scan_seconds = scan_seconds
        self.runners: dict[int, CampaignRunner] = {}
        self.stopping = anyio.Event()
        self.fatal: RunResult | None = None  # every campaign would fail alike: stopped
        self.last_scan = anyio.current_time()
        self._worker_id = options().worker_id

    async def on_call_event(self, event: CallEvent) -> None:
        """A Retell webhook event: the runner following the call settles it now instead of at
        its next poll; an analysis that comes after the end is added to the attempt. The end of
        a call another process follows is written to the store for it (a fleet on Postgres),
        which settles it at once; alone on SQLite, no other process follows calls."""
        if event.event == "call_started":
            return
        for runner in list(self.runners.values()):
            if await runner.call_reported(event.call):
                break
        else:  # another process follows it: in a fleet, it settles it from the store at once
            if event.call.is_terminal and self.store.is_shared:
                ended = event.call.model_dump(mode="json", exclude_none=True)
                await self.store.record_seen_call(event.call.call_id, ended)
        if event.event == "call_analyzed":
            call = event.call
            await self.store.record_later_details(
                call.call_id, call.call_analysis, call.cost_cents, call.recording_url
            )

    def stop(self) -> None:
        self.stopping.set()
        for runner in list(self.runners.values()):
            runner.stop()

    async def serve(self) -> None:
        """Until `stop()` (or an account failure, which every campaign shares)."""
        helpers = anyio.CancelScope()  # gauges and wake-ups, while the runners run
        async with anyio.create_task_group() as group:  # exits once every runner has drained
            group.start_soon(self._helpers, helpers)
            while not self.stopping.is_set():
                for row in await self.store.campaigns_to_serve():
                    if row.id not in self.runners:
                        self._start(group, row)
                self.last_scan = anyio.current_time()
                with anyio.move_on_after(self.scan_seconds):
                    await self.stopping.wait()
            helpers.cancel()

    async def _helpers(self, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                async with anyio.create_task_group() as group:
                    group.start_soon(self._report_gauges)
                    group.start_soon(self.store.watch_freed_slots, self._slot_freed, self._seen)
                    group.start_soon(self._heartbeat)
        finally:
            with anyio.move_on_after(2, shield=True):
                await self.store.process_gone(self._worker_id)

    async def _heartbeat(self) -> None:
        """This worker is alive: `dialer resume` can say someone will dial."""
        options = self._options()
        while True:
            await self.store.heartbeat(options.worker_id, WORKER)
            await anyio.sleep(max(0.2, options.lease_seconds / 3))

    def _slot_freed(self, campaign_id: int) -> None:
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.slot_freed()

    def _seen(self, campaign_id: int) -> None:
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.ends_seen()

    def _start(self, group: anyio.abc.TaskGroup, row: CampaignRow) -> None:
        runner = CampaignRunner(self.store, self.client, row, self._options())
        self.runners[row.id] = runner
        log.info("campaign_serving", campaign=row.name, status=row.status)
        group.start_soon(self._run, runner)

    async def _run(self, runner: CampaignRunner) -> None:
        try:
            result = await runner.run()
        finally:
            self.runners.pop(runner.row.id, None)
        await self._ended(runner, result)

    async def _ended(self, runner: CampaignRunner, result: RunResult) -> None:
        name = runner.row.name
        if result.outcome is RunOutcome.FINISHED:
            await self.store.finish_if_done(runner.row.id)
            log.info("campaign_finished", campaign=name)
        elif result.outcome in (RunOutcome.FATAL, RunOutcome.MISCONFIGURED):
            # The key, the account or the address is refused: every campaign fails alike.
            self.fatal = result
            log.error("account_refused", campaign=name, error=result.message)
            self.stop()
        elif result.outcome is not RunOutcome.STOPPED:
            log.info("campaign_released", campaign=name, outcome=result.outcome.value)

    async def _report_gauges(self) -> None:
        while True:
            for campaign_id, runner in list(self.runners.items()):
                name = runner.row.name
                METRICS.active_calls.labels(campaign=name).set(runner.active_calls)
                in_doubt = await self.store.in_doubt_count(campaign_id)
                METRICS.in_doubt.labels(campaign=name).set(in_doubt)
            await anyio.sleep(5)
