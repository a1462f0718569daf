"""The runner: claims due leads, places each call exactly once, follows it to its end.

Every state change is one short transaction in the store, written before the next step that
depends on it, so a process killed at any instant leaves a state the next run can finish:
- an attempt row (and its lease) exists before its create request is sent;
- an ambiguous create leaves the attempt `in_doubt`: it is reconciled (list-calls by the
  attempt id in metadata, then a resend with the same idempotency key) before the lead may be
  dialed again;
- a call with a known id is followed until terminal, by us or, once our lease lapses, by
  whoever takes the attempt over.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import anyio
import structlog
from sqlalchemy.exc import IntegrityError

from dialer.clock import Clock
from dialer.hours import Window, effective_zones, never_reason, next_day_opening, schedule
from dialer.logs import loggable_number
from dialer.metrics import METRICS
from dialer.policy import decide
from dialer.retell import (
    Ambiguous,
    CreateCallRequest,
    CreateOutcome,
    Fatal,
    NotPlaced,
    PhoneCall,
    Placed,
    RetellClient,
    RetellError,
)
from dialer.store import Store
from dialer.store.repository import CampaignRow, LiveAttempt, ZoneFilter

log = structlog.get_logger("dialer.runner")

_OUTCOME_NAMES = {Placed: "placed", NotPlaced: "not_placed", Ambiguous: "in_doubt", Fatal: "fatal"}
IDEMPOTENCY_WINDOW = timedelta(minutes=55)  # Retell honors a key for one hour
UNREADABLE_WARN_SECONDS = 300.0


class RunOutcome(StrEnum):
    FINISHED = "finished"  # every lead is terminal
    STOPPED = "stopped"  # a signal asked us to stop; resumable
    FATAL = "fatal"  # the API refused the key or the account
    PAUSED = "paused"  # the campaign was paused (by a person or an account outcome)
    CANCELLED = "cancelled"


@dataclass
class RunOptions:
    worker_id: str
    lease_seconds: float = 30.0
    time_scale: float = 1.0  # >1 compresses pacing, backoffs and polling (the simulator's clock)
    claim_batch: int = 50
    poll_concurrency: int = 32
    poll_min_seconds: float = 1.0
    poll_max_seconds: float = 5.0
    grace_seconds: float = 10.0
    exit_when_done: bool = True
    clock: Clock = field(default_factory=Clock)  # the wall clock calling hours are judged by

    def scaled(self, seconds: float) -> float:
        """Real seconds for `seconds` of campaign time (never below 50 ms, so an accelerated
        simulation does not turn polling into a busy loop)."""
        return max(0.05, seconds / self.time_scale)


@dataclass
class RunResult:
    outcome: RunOutcome
    message: str = ""


@dataclass
class RunStats:
    """What the progress display reads; updated by the runner only."""

    placed: int = 0
    ended: int = 0
    in_doubt: int = 0
    not_placed: int = 0
    waiting_for_window: int = 0  # due leads whose calling window is closed now
    next_window: datetime | None = None  # when the next of those windows opens
    dial_times: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def dial_rate(self, window: float = 10.0) -> float:
        now = time.monotonic()
        recent = [t for t in self.dial_times if now - t <= window]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], 1e-6)
        return len(recent) / span


@dataclass
class _Attempt:
    """An attempt this process is working on (dialing, in doubt, or a call being followed)."""

    attempt_id: str
    lead_id: int
    attempt_number: int
    to_number: str
    dynamic_variables: dict[str, str]
    call_metadata: dict[str, Any]
    created_at: datetime
    zones: str = ""
    call_id: str | None = None
    followed_since: float = 0.0
    next_poll: float = 0.0
    polling: bool = False
    failures: int = 0
    last_read: float = 0.0
    warned_at: float = 0.0


class CampaignRunner:
    """Runs one campaign in this process until it is done (or, as a worker, until stopped)."""

    def __init__(
        self,
        store: Store,
        client: RetellClient,
        campaign: CampaignRow,
        options: RunOptions,
    ) -> None:
        self.store = store
        self.client = client
        self.row = campaign
        self.campaign = campaign.settings()
        self.options = options
        self.stats = RunStats()
        self.stopping = anyio.Event()
        # One event per waiter: a waiter that re-arms its event must not swallow another's wake-up.
        self._wakes = {"claim": anyio.Event(), "end": anyio.Event(), "poll": anyio.Event()}
        self._fatal: str | None = None
        self._status = campaign.status
        self._account_cap: int | None = None
        self._followed: dict[str, _Attempt] = {}
        self._busy: dict[str, _Attempt] = {}  # dialing or reconciling in this process
        self._mean_call_seconds: float | None = None
        self._dial_group: anyio.abc.TaskGroup | None = None
        self._log = log.bind(campaign=campaign.name, worker=options.worker_id)
        hours = self.campaign.calling_hours
        self._window = Window.of(hours) if hours else None
        self._zone_counts: dict[str, int] = {}
        self._zone_counts_read = -1e9
        self._zone_filter: ZoneFilter | None = None
        self._zone_filter_until = -1e9

    # -- public ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight requests finish within the grace period."""
        self.stopping.set()
        self._nudge()

    async def call_reported(self, call: PhoneCall) -> bool:
        """A webhook told how a call stands. If this runner follows it and it is over, settle it
        now. Returns whether this runner follows the call."""
        work = next((w for w in self._followed.values() if w.call_id == call.call_id), None)
        if work is None:
            return False
        if call.is_terminal and not work.polling:  # a poll in flight settles it just as well
            work.polling = True  # keeps the poll loop off it meanwhile
            try:
                await self._finish(work, call, source="webhook")
            finally:
                work.polling = False
        return True

    @property
    def active_calls(self) -> int:
        return len(self._followed) + len(self._busy)

    async def run(self) -> RunResult:
        await self._read_account_capacity()
        async with anyio.create_task_group() as background:
            background.start_soon(self._poll_loop)
            background.start_soon(self._lease_loop)
            with anyio.CancelScope() as dial_scope:
                async with anyio.create_task_group() as dial_group:
                    self._dial_group = dial_group
                    await self._take_over_expired()  # recover before anything new is dialed
                    dial_group.start_soon(self._claim_loop)
                    result = await self._wait_for_end()
                    self.stopping.set()
                    self._nudge()
                    dial_scope.deadline = anyio.current_time() + self.options.grace_seconds
            background.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            await self.store.release_leases(self.options.worker_id)
        return result

    # -- ending ----------------------------------------------------------------------------

    async def _wait_for_end(self) -> RunResult:
        while True:
            with anyio.move_on_after(1.0):
                await self._woken("end")
            await anyio.sleep(0.05)  # many calls ending at once need one check, not many
            if self._fatal:
                return RunResult(RunOutcome.FATAL, self._fatal)
            if self.stopping.is_set():
                return RunResult(RunOutcome.STOPPED)
            if not self.options.exit_when_done:
                continue
            row = await self.store.campaign(self.row.id)
            self._status = row.status if row else "cancelled"
            reason = row.status_reason if row else None
            if self._status in ("paused", "cancelled") and self.active_calls == 0:
                outcome = RunOutcome.PAUSED if self._status == "paused" else RunOutcome.CANCELLED
                return RunResult(outcome, reason or "")
            if self.active_calls == 0 and await self.store.unfinished_leads(self.row.id) == 0:
                return RunResult(RunOutcome.FINISHED)

    async def _woken(self, waiter: str) -> None:
        await self._wakes[waiter].wait()
        self._wakes[waiter] = anyio.Event()

    def _nudge(self) -> None:
        """Something changed (a slot freed, a stop): wake the claimer and the end check."""
        for event in self._wakes.values():
            event.set()

    # -- claiming --------------------------------------------------------------------------

    async def _read_account_capacity(self) -> None:
        """Never plan above the account's free concurrency (read once at start)."""
        try:
            concurrency = await self.client.get_concurrency()
        except RetellError as exc:
            self._log.warning("concurrency_unknown", error=str(exc))
            return
        free = concurrency.free
        if free is not None:
            own = await self.store.live_attempts(self.row.id)
            self._account_cap = max(1, free + own)
            self._log.info("account_concurrency", limit=concurrency.concurrency_limit, free=free)

    async def _claim_loop(self) -> None:
        assert self._dial_group is not None
        while not self.stopping.is_set():
            try:
                claim = await self.store.claim(
                    self.row.id,
                    self.options.worker_id,
                    limit=self.options.claim_batch,
                    lease_seconds=self.options.lease_seconds,
                    account_cap=self._account_cap,
                    rate_scale=self.options.time_scale,
                    zones=await self._calling_hours(),
                )
            except IntegrityError:
                # Another campaign dialed the same number at this instant; try again shortly.
                await anyio.sleep(0.1)
                continue
            self._status = claim.status
            claimed_at = time.monotonic()
            for lead in claim.leads:
                work = _Attempt(
                    attempt_id=lead.attempt_id,
                    lead_id=lead.lead_id,
                    attempt_number=lead.attempt_number,
                    to_number=lead.to_number,
                    dynamic_variables=lead.dynamic_variables,
                    call_metadata=lead.call_metadata,
                    created_at=claim.now,
                    zones=lead.zones,
                )
                self._busy[lead.attempt_id] = work
                delay = (lead.send_at - claim.now).total_seconds() - (time.monotonic() - claimed_at)
                self._dial_group.start_soon(self._dial, work, delay)
            if claim.leads and claim.free_slots > 0:
                continue
            wait = await self._claim_wait(claim.retry_in, claim.free_slots, bool(claim.leads))
            with anyio.move_on_after(wait):
                await self._woken("claim")

    async def _claim_wait(self, retry_in: float | None, free_slots: int, got_any: bool) -> float:
        if self._status != "active":
            return 2.0
        if retry_in is not None:
            return max(0.005, retry_in)
        if free_slots <= 0 or got_any:
            return 1.0  # a finished call nudges us sooner
        ceiling = 2.0
        if self.stats.next_window is not None:  # sleep until the next window opens, not poll
            opens_in = (self.stats.next_window - self.options.clock.now()).total_seconds()
            ceiling = min(ceiling, max(0.01, opens_in))
        due = await self.store.next_due_at(self.row.id, await self._calling_hours())
        if due is None:
            return ceiling
        return min(ceiling, max(0.01, (due - datetime.now(UTC)).total_seconds()))

    async def _calling_hours(self) -> ZoneFilter | None:
        """Which zone keys may be dialed now (None: no calling hours). Recomputed each second;
        the keys and their lead counts are re-read every 30 s."""
        hours = self.campaign.calling_hours
        if hours is None:
            return None
        now = time.monotonic()
        if now - self._zone_counts_read > 30.0:
            self._zone_counts = await self.store.waiting_by_zone(self.row.id)
            self._zone_counts_read = now
            self._zone_filter_until = 0.0
        if self._zone_filter is None or now >= self._zone_filter_until:
            plan = schedule(hours, self._zone_counts, self.options.clock.now())
            self._zone_filter = ZoneFilter(
                dialable=plan.open_keys,
                never={key: never_reason(hours, key) for key in plan.never_keys},
            )
            self._zone_filter_until = now + 1.0
            self.stats.waiting_for_window = plan.waiting_count(self._zone_counts)
            self.stats.next_window = plan.next_opening  # an opening only a waiting key has
            if plan.next_opening is not None:
                # re-plan the moment a window opens
                opens_in = (plan.next_opening - self.options.clock.now()).total_seconds()
                self._zone_filter_until = min(self._zone_filter_until, now + max(0.0, opens_in))
        return self._zone_filter

    # -- placing ---------------------------------------------------------------------------

    def _request(self, work: _Attempt) -> CreateCallRequest:
        metadata = {
            **work.call_metadata,
            "campaign": self.campaign.name,
            "lead_id": work.lead_id,
            "attempt_id": work.attempt_id,
        }
        return CreateCallRequest(
            from_number=self.campaign.from_number,
            to_number=work.to_number,
            override_agent_id=self.campaign.agent_id,
            metadata=metadata,
            retell_llm_dynamic_variables=work.dynamic_variables,
            idempotency_key=work.attempt_id,
        )

    async def _dial(self, work: _Attempt, delay: float) -> None:
        if delay > 0:
            with anyio.move_on_after(delay):
                await self.stopping.wait()
        if self.stopping.is_set():
            # Never sent: hand the lead back with its attempt refunded.
            await self.store.record_not_placed(
                work.attempt_id,
                work.lead_id,
                self.options.worker_id,
                error=None,
                retry_in=0.0,
                sent=False,
            )
            self._busy.pop(work.attempt_id, None)
            return
        self.stats.dial_times.append(time.monotonic())
        outcome = await self.client.create_phone_call(self._request(work))
        await self._settle(work, outcome)

    async def _settle(self, work: _Attempt, outcome: CreateOutcome) -> None:
        """Write what a create answer proves, then follow, requeue, fail or reconcile."""
        worker = self.options.worker_id
        METRICS.calls_placed.inc(campaign=self.row.name, outcome=_OUTCOME_NAMES[type(outcome)])
        if isinstance(outcome, Placed):
            await self._follow(work, outcome.call)
            return
        if isinstance(outcome, Ambiguous):
            self.stats.in_doubt += 1
            self._log.warning("create_in_doubt", attempt=work.attempt_id, reason=outcome.reason)
            await self.store.record_in_doubt(work.attempt_id, worker, outcome.reason)
            assert self._dial_group is not None
            self._dial_group.start_soon(self._reconcile, work)
            return
        self._busy.pop(work.attempt_id, None)
        self._nudge()
        if isinstance(outcome, Fatal):
            await self.store.record_not_placed(
                work.attempt_id, work.lead_id, worker, error=outcome.reason, retry_in=0.0
            )
            self._fatal = f"Retell refused the request ({outcome.status}): {outcome.reason}"
            self._log.error("api_refused", status=outcome.status, reason=outcome.reason)
            self.stop()
            return
        self.stats.not_placed += 1
        if outcome.permanent:
            self._log.warning(
                "create_rejected",
                attempt=work.attempt_id,
                status=outcome.status,
                reason=outcome.reason,
                to=loggable_number(work.to_number),
            )
            await self.store.record_not_placed(
                work.attempt_id,
                work.lead_id,
                worker,
                error=f"{outcome.status}: {outcome.reason}",
                retry_in=None,
            )
            return
        retry_in = outcome.retry_after if outcome.retry_after is not None else 1.0
        if outcome.status == 429:
            await self.store.hold(self.row.id, retry_in)
        await self.store.record_not_placed(
            work.attempt_id,
            work.lead_id,
            worker,
            error=f"{outcome.status or 'not sent'}: {outcome.reason}",
            retry_in=retry_in,
        )

    async def _reconcile(self, work: _Attempt) -> None:
        """Settle an attempt in doubt: find its call by metadata, else resend with the same key."""
        delay = 0.25
        while not self.stopping.is_set():
            try:
                calls = await self.client.find_calls_by_metadata("attempt_id", work.attempt_id)
            except RetellError as exc:
                self._log.info("reconcile_list_failed", attempt=work.attempt_id, error=str(exc))
                calls = None
            if calls:
                if len(calls) > 1:
                    self._log.error(
                        "duplicate_calls_for_attempt",
                        attempt=work.attempt_id,
                        calls=[c.call_id for c in calls],
                    )
                self._log.info("reconciled", attempt=work.attempt_id, call=calls[0].call_id)
                await self._follow(work, calls[0])
                return
            if calls is not None:
                age = datetime.now(UTC) - work.created_at
                if age > IDEMPOTENCY_WINDOW:
                    # Listed as absent, and too old for a resend to be deduplicated: no call.
                    await self._settle(work, NotPlaced("reconciled: no call exists", None))
                    return
                wait = await self.store.reserve_dial_slot(self.row.id, self.options.time_scale)
                await anyio.sleep(wait)
                self.stats.dial_times.append(time.monotonic())
                outcome = await self.client.create_phone_call(self._request(work))
                if not isinstance(outcome, Ambiguous):
                    self._log.info("reconciled_by_resend", attempt=work.attempt_id)
                    await self._settle(work, outcome)
                    return
            with anyio.move_on_after(delay):
                await self.stopping.wait()
            delay = min(delay * 2, 30.0)
        # Stopping: the attempt stays in doubt; the next run reconciles it.
        self._busy.pop(work.attempt_id, None)

    # -- following -------------------------------------------------------------------------

    async def _follow(self, work: _Attempt, call: PhoneCall) -> None:
        ok = await self.store.record_placed(
            work.attempt_id,
            work.lead_id,
            self.options.worker_id,
            call.call_id,
            call.call_status,
            self.options.lease_seconds,
        )
        self._busy.pop(work.attempt_id, None)
        if not ok:
            self._log.warning("lease_lost", attempt=work.attempt_id)
            return
        self.stats.placed += 1
        self._log.info(
            "call_placed",
            attempt=work.attempt_id,
            call=call.call_id,
            to=loggable_number(work.to_number),
        )
        work.call_id = call.call_id
        now = time.monotonic()
        work.followed_since = work.last_read = now
        work.next_poll = now + self.options.scaled(self.options.poll_min_seconds)
        self._followed[work.attempt_id] = work
        self._wakes["poll"].set()
        if call.is_terminal:
            await self._finish(work, call)

    def _poll_interval(self, work: _Attempt, call: PhoneCall) -> float:
        """Fast right after dialing and around the expected end; slower in long calls."""
        opts = self.options
        elapsed = (time.monotonic() - work.followed_since) * opts.time_scale
        low, high = opts.poll_min_seconds, opts.poll_max_seconds
        if call.call_status == "registered":
            interval = low
        else:
            interval = min(high, max(low, elapsed / 4))
            mean = self._mean_call_seconds
            if mean is not None and 0.8 * mean <= elapsed <= 1.5 * mean:
                interval = low
        return opts.scaled(interval)

    async def _poll_loop(self) -> None:
        limit = anyio.Semaphore(self.options.poll_concurrency)
        async with anyio.create_task_group() as group:
            while True:
                now = time.monotonic()
                soonest = now + 0.25
                for work in list(self._followed.values()):
                    if work.polling:
                        continue
                    if work.next_poll <= now:
                        work.polling = True
                        group.start_soon(self._poll_one, work, limit)
                    else:
                        soonest = min(soonest, work.next_poll)
                with anyio.move_on_after(max(0.005, soonest - time.monotonic())):
                    await self._woken("poll")

    async def _poll_one(self, work: _Attempt, limit: anyio.Semaphore) -> None:
        try:
            async with limit:
                assert work.call_id is not None
                try:
                    call = await self.client.get_call(work.call_id)
                except RetellError as exc:
                    self._poll_failed(work, exc)
                    return
            work.failures, work.last_read = 0, time.monotonic()
            if call.is_terminal:
                await self._finish(work, call)
            else:
                work.next_poll = time.monotonic() + self._poll_interval(work, call)
        finally:
            work.polling = False
            self._wakes["poll"].set()  # its next poll may be sooner than the loop's sleep

    def _poll_failed(self, work: _Attempt, exc: Exception) -> None:
        work.failures += 1
        now = time.monotonic()
        work.next_poll = now + min(30.0, 0.5 * 2 ** min(work.failures, 6))
        unreadable = now - work.last_read
        if unreadable > UNREADABLE_WARN_SECONDS and now - work.warned_at > 60:
            work.warned_at = now
            self._log.warning(
                "call_unreadable",
                call=work.call_id,
                attempt=work.attempt_id,
                seconds=round(unreadable),
                error=str(exc),
            )

    async def _finish(self, work: _Attempt, call: PhoneCall, source: str = "poll") -> None:
        now = await self.store.now()
        decision = decide(
            self.campaign.retry,
            work.attempt_number,
            call.call_status,
            call.disconnection_reason,
            now,
            time_scale=self.options.time_scale,
        )
        next_attempt_at = decision.next_attempt_at
        if decision.next_day_window:
            hours = self.campaign.calling_hours
            zones = effective_zones(hours, work.zones) if hours else ()
            clock_now = self.options.clock.now()
            opening = next_day_opening(self._window, zones, clock_now)
            next_attempt_at = now + (opening - clock_now) / self.options.time_scale
        with anyio.CancelScope(shield=True):
            ok = await self.store.record_call_end(
                work.attempt_id,
                work.lead_id,
                self.row.id,
                self.options.worker_id,
                call.model_dump(mode="json"),
                state=decision.state.value,
                next_attempt_at=next_attempt_at,
                refund=decision.refund,
                suppress=decision.suppress,
                pause_reason=decision.pause_reason,
            )
        self._followed.pop(work.attempt_id, None)
        self._nudge()
        if not ok:
            self._log.warning("lease_lost", attempt=work.attempt_id)
            return
        self.stats.ended += 1
        METRICS.calls_ended.inc(
            campaign=self.row.name, reason=call.disconnection_reason or call.call_status
        )
        seconds = (time.monotonic() - work.followed_since) * self.options.time_scale
        mean = self._mean_call_seconds
        self._mean_call_seconds = seconds if mean is None else 0.9 * mean + 0.1 * seconds
        self._log.info(
            "call_ended",
            attempt=work.attempt_id,
            call=call.call_id,
            status=call.call_status,
            reason=call.disconnection_reason,
            lead_state=decision.state.value,
            source=source,
        )
        if decision.pause_reason:
            self._log.error(
                "campaign_paused",
                reason=decision.pause_reason,
                hint="fix the account or number, then `dialer resume " + self.row.name + "`",
            )

    # -- leases ----------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        """Heartbeat our leases; take over attempts whose worker died."""
        period = max(0.2, self.options.lease_seconds / 3)
        while True:
            await anyio.sleep(period)
            await self.store.renew_leases(self.options.worker_id, self.options.lease_seconds)
            if not self.stopping.is_set():
                await self._take_over_expired()

    async def _take_over_expired(self) -> None:
        assert self._dial_group is not None or self.stopping.is_set()
        taken = await self.store.take_over_expired(
            self.row.id, self.options.worker_id, self.options.lease_seconds
        )
        for live in taken:
            self._adopt(live)

    def _adopt(self, live: LiveAttempt) -> None:
        if live.attempt_id in self._followed or live.attempt_id in self._busy:
            return
        work = _Attempt(
            attempt_id=live.attempt_id,
            lead_id=live.lead_id,
            attempt_number=live.attempt_number,
            to_number=live.to_number,
            dynamic_variables=live.dynamic_variables,
            call_metadata=live.call_metadata,
            created_at=live.created_at,
            call_id=live.call_id,
            zones=live.zones,
        )
        self._log.info("attempt_taken_over", attempt=live.attempt_id, state=live.state)
        if live.state == "placed" and live.call_id:
            now = time.monotonic()
            work.followed_since = work.last_read = now
            work.next_poll = now
            self._followed[work.attempt_id] = work
        elif self._dial_group is not None:
            self._busy[work.attempt_id] = work
            self._dial_group.start_soon(self._reconcile, work)
