"""The runner: claims due leads, has each call placed exactly once (dialer.dialing.placer),
follows it to its end (dialer.dialing.follower) and writes the decision on how it ended.

Every state change is one short transaction in the store, written before the next step that
depends on it, so a process killed at any instant leaves a state the next run can finish: a call
with a known id is followed until terminal, by us or, once our lease lapses, by whoever takes
the attempt over (an attempt in doubt is reconciled by the placer first). While Retell cannot
be reached, nothing new is claimed (a claimed lead not yet sent is handed back unsent).
What happens to a lead is decided by the domain (dialer.domain.policy); the store records it.
A `dialer load` that changed the settings is used from the next claim (dialing.run_settings).
"""

from __future__ import annotations

import anyio
import anyio.abc
import structlog

from dialer.dialing.call_end import decide_call_end, holds_for_analysis
from dialer.dialing.calling_gate import CallingGate
from dialer.dialing.claim_plan import account_cap
from dialer.dialing.fleet_following import FleetFollowing
from dialer.dialing.followed import FollowedCall
from dialer.dialing.follower import CallFollower
from dialer.dialing.options import RunOptions, RunOutcome, RunResult, RunStats
from dialer.dialing.placer import CallPlacer
from dialer.dialing.ports import CallApi, DialingStore
from dialer.dialing.run_settings import RunSettings, reloaded
from dialer.dialing.stopping import unless_stopped
from dialer.domain.calling_rules import PlaceFilter
from dialer.domain.campaign import CampaignSettings
from dialer.domain.lifecycle import Cause
from dialer.domain.states import AttemptState, CampaignStatus
from dialer.observability.logs import loggable_number
from dialer.observability.metrics import METRICS
from dialer.retell import PhoneCall
from dialer.store import RUN, Attempt, CampaignRow, Claim, NumberBusyError

log = structlog.get_logger("dialer.runner")

RELEASE_SECONDS = 5.0  # how long a stopping runner tries to hand its leases back
RETELL_PROBE_SECONDS = 1.0  # how often a claim loop asks an unreachable Retell if it is back


class CampaignRunner:
    """Runs one campaign in this process until it is done (or, as a worker, until stopped)."""

    def __init__(
        self,
        store: DialingStore,
        client: CallApi,
        campaign: CampaignRow,
        options: RunOptions,
    ) -> None:
        self.store = store
        self.client = client
        self.row = campaign
        self.options = options
        self._settings = settings = RunSettings.of(campaign, options)
        self.stats = RunStats()
        self.stopping = anyio.Event()
        # One event per waiter: a waiter that re-arms its event must not swallow another's wake-up.
        self._wakes = {"claim": anyio.Event(), "end": anyio.Event()}
        self._fatal: RunResult | None = None  # the key, the account or the address refused
        self._status = campaign.status
        self._account_cap: int | None = None
        self._dial_group: anyio.abc.TaskGroup | None = None
        self._log = log.bind(campaign=campaign.name, worker=options.worker_id)
        fleet = FleetFollowing.of(store, campaign.id, options, self._log)
        self._follower = CallFollower(
            client,
            options,
            self._call_ended,
            self._log,
            self._analysis_came,
            fleet,
            hold_for_analysis=holds_for_analysis(settings.campaign),
        )
        self._gate = CallingGate(store, campaign.id, settings.rules, options.clock)
        self._placer = CallPlacer(
            store,
            client,
            campaign,
            options,
            self.stats,
            self.stopping,
            on_placed=self._follow,
            on_slot_freed=self._nudge,
            on_fatal=self._fatal_answer,
            on_paused=self._paused,
            log=self._log,
        )

    # -- public ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight requests finish within the grace period."""
        self.stopping.set()
        self._nudge()

    def slot_freed(self) -> None:
        """Another process freed one of the campaign's slots: claim now, not at the next poll."""
        self._wakes["claim"].set()

    def ends_seen(self) -> None:
        """The process following the campaign saw calls end: settle ours among them now."""
        self._follower.ends_seen()

    async def call_reported(self, call: PhoneCall) -> bool:
        """A webhook told how a call stands; returns whether this runner follows the call."""
        return await self._follower.report(call)

    @property
    def campaign(self) -> CampaignSettings:
        return self._settings.campaign

    @property
    def active_calls(self) -> int:
        return len(self._follower) + len(self._placer)

    async def run(self) -> RunResult:
        try:
            with self.store.availability.when_back(self._renew_leases):
                return await self._run()
        finally:
            await self._placer.aclose()

    async def _run(self) -> RunResult:
        self._account_cap = await account_cap(self.client, self.store, self.row.id, self._log)
        async with anyio.create_task_group() as background:
            background.start_soon(self._follower.run)
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
        # Let the next run take our calls at once; if the store does not answer, the leases
        # simply run out.
        with anyio.move_on_after(RELEASE_SECONDS, shield=True):
            await self.store.release_leases(self.options.worker_id)
            if self.options.heartbeat:
                await self.store.process_gone(self.options.worker_id)
        return result

    # -- ending ----------------------------------------------------------------------------

    async def _wait_for_end(self) -> RunResult:
        while True:
            with anyio.move_on_after(1.0):
                await self._woken("end")
            await anyio.sleep(0.05)  # many calls ending at once need one check, not many
            if self._fatal:
                return self._fatal
            if self.stopping.is_set():
                return RunResult(RunOutcome.STOPPED)
            if not self.options.exit_when_done:
                continue
            row = await self.store.campaign(self.row.id)
            self._reload(row)
            self._status = row.status if row else CampaignStatus.CANCELLED
            reason = row.status_reason if row else None
            self._note_pause(reason)
            if self.active_calls == 0:
                result = await self._result_if_over(reason or "")
                if result is not None and not self._details_still_coming():
                    return result

    async def _result_if_over(self, reason: str) -> RunResult | None:
        """How the run ends now that no call is in flight; None while it goes on."""
        if self._status is CampaignStatus.PAUSED:
            return None if self.options.wait_while_paused else RunResult(RunOutcome.PAUSED, reason)
        if self._status is CampaignStatus.CANCELLED:
            return RunResult(RunOutcome.CANCELLED, reason)
        unfinished = await self.store.has_unfinished_leads(self.row.id)
        return None if unfinished else RunResult(RunOutcome.FINISHED)

    def _note_pause(self, reason: str | None) -> None:
        """While `dialer run` waits out a pause: say once why, and what resumes it."""
        paused = self._status is CampaignStatus.PAUSED
        if paused and self.stats.paused is None and self.options.wait_while_paused:
            hint = f"calls in progress are followed; `dialer resume {self.row.name}` continues"
            self._log.warning("campaign_paused_waiting", reason=reason, hint=hint)
        elif not paused and self.stats.paused is not None:
            self._log.warning("campaign_resumed")
        self.stats.paused = (reason or "paused") if paused else None

    def _details_still_coming(self) -> bool:
        """Wait (to the follower's limit) for ended calls' later analysis, cost and recording."""
        waiting = self._follower.awaiting_details
        if waiting and not self.stats.awaiting_details:
            self._log.info("waiting_for_call_details", calls=waiting)
        self.stats.awaiting_details = waiting
        return waiting > 0

    async def _woken(self, waiter: str) -> None:
        await self._wakes[waiter].wait()
        self._wakes[waiter] = anyio.Event()

    def _nudge(self) -> None:
        """Something changed (a slot freed, a stop): wake the claimer and the end check."""
        for event in self._wakes.values():
            event.set()

    # -- claiming --------------------------------------------------------------------------

    def _reload(self, row: CampaignRow | None) -> None:
        """Use the stored settings if `dialer load` changed them (not for calls placed)."""
        fresh = reloaded(self._settings, row, self.options, self._log)
        if fresh is not None:
            self._settings = fresh
            self._gate.use(fresh.rules)
            self._follower.hold_for_analysis = holds_for_analysis(fresh.campaign)
            self._placer.use(fresh.campaign)

    async def _places(self) -> PlaceFilter | None:
        """Which places may be dialed now (None: no rule restricts any)."""
        places = await self._gate.places()
        self.stats.waiting_for_window = self._gate.waiting
        self.stats.next_window = self._gate.next_opening
        return places

    async def _claim_loop(self) -> None:
        assert self._dial_group is not None
        while not self.stopping.is_set():
            if self.client.unreachable is not None:
                await self._wait_for_retell()
                continue
            self._reload(await self.store.campaign(self.row.id))  # a `dialer load` meanwhile
            places = await self._places()
            try:
                claim = await self.store.claim(
                    self.row.id,
                    self.options.worker_id,
                    self._settings.claim_request,
                    places=places,
                    account_cap=self._account_cap,
                )
            except NumberBusyError:
                # Another campaign dialed the same number at this instant; try again shortly.
                await anyio.sleep(0.1)
                continue
            self._status = claim.status
            claimed_at = anyio.current_time()
            for claimed in claim.attempts:
                attempt = self._placer.take(claimed)
                assert attempt.send_at is not None
                slot_in = (attempt.send_at - claim.now).total_seconds()
                delay = slot_in - (anyio.current_time() - claimed_at)
                self._dial_group.start_soon(self._placer.dial, attempt, delay)
            if claim.attempts and claim.free_slots > 0:
                continue
            wait = await self._claim_wait(claim, places)
            with anyio.move_on_after(wait):
                await self._woken("claim")

    async def _wait_for_retell(self) -> None:
        """Retell cannot be reached: claim nothing until it answers again (or a stop)."""
        await unless_stopped(
            self.stopping, lambda: self.client.until_reachable(RETELL_PROBE_SECONDS)
        )

    async def _claim_wait(self, claim: Claim, places: PlaceFilter | None) -> float:
        """How long the claim loop sleeps (a freed slot or a stop wakes it sooner)."""
        if self._status is not CampaignStatus.ACTIVE:
            return 2.0
        if claim.retry_in is not None:
            return max(0.005, claim.retry_in)
        if claim.free_slots <= 0 or claim.attempts:
            return 1.0  # a finished call nudges us sooner
        ceiling = 2.0
        if self.stats.next_window is not None:  # sleep until the next window opens, not poll
            opens_in = (self.stats.next_window - self.options.clock.now()).total_seconds()
            ceiling = min(ceiling, max(0.01, opens_in))
        due = await self.store.next_due_at(self.row.id, places)
        if due is None:
            return ceiling
        return min(ceiling, max(0.01, (due - claim.now).total_seconds()))  # both the store's clock

    # -- following -------------------------------------------------------------------------

    async def _follow(self, attempt: Attempt, call: PhoneCall) -> None:
        worker, lease = self.options.worker_id, self.options.lease_seconds
        call_id, status = call.call_id, call.call_status
        if not await self.store.record_placed(attempt, worker, call_id, status, lease):
            self._log.warning("lease_lost", attempt=attempt.attempt_id)
            return
        self.stats.placed += 1
        to = loggable_number(attempt.to_number)
        self._log.info("call_placed", attempt=attempt.attempt_id, call=call.call_id, to=to)
        self._follower.follow(attempt, call)

    async def _call_ended(self, followed: FollowedCall, call: PhoneCall, source: str) -> None:
        """The follower saw the call's end: one decision — the lead's next state, what the call
        does to its from-number and to the campaign — written in one transaction."""
        attempt = followed.attempt
        now = await self.store.now()
        settings = self._settings
        decision = decide_call_end(
            settings.campaign, self.options, attempt, call, now, settings.rules
        )
        with anyio.CancelScope(shield=True):
            done = await self.store.record_call_end(
                attempt, self.options.worker_id, decision, call.call_end(), settings.health
            )
        self._nudge()
        if not done.written:
            self._log.warning("lease_lost", attempt=attempt.attempt_id)
            return
        self.stats.ended += 1
        reason = call.disconnection_reason or call.call_status
        METRICS.calls_ended.labels(campaign=self.row.name, reason=reason).inc()
        self._log.info(
            "call_ended",
            attempt=attempt.attempt_id,
            call=call.call_id,
            status=call.call_status,
            reason=call.disconnection_reason,
            lead_state=decision.state.value,
            why=decision.why,
            source=source,
        )
        if done.retired is not None:
            self._number_retired(attempt.from_number, done.retired)
        if (pause := done.paused) is not None and pause.reason is not None:
            if pause.cause is Cause.ACCOUNT:  # the metric names which account outcome
                self._paused(pause.reason, pause.reason, "fix the account or number")
            else:
                self._paused(pause.reason, pause.cause, "see the reason")

    def _fatal_answer(self, result: RunResult) -> None:
        """Retell refused the key, the account or the address: the run ends with `result`."""
        self._fatal = result
        self.stop()

    def _number_retired(self, from_number: str | None, reason: str) -> None:
        METRICS.numbers_retired.labels(campaign=self.row.name).inc()
        self._log.warning(
            "from_number_retired",
            number=loggable_number(from_number or ""),
            reason=reason,
            hint="its leads move to the pool's other numbers",
        )

    async def _analysis_came(self, call: PhoneCall) -> None:
        await self.store.record_later_details(
            call.call_id, call.call_analysis, call.cost_cents, call.recording_url
        )

    def _paused(self, reason: str, kind: str, hint: str) -> None:
        METRICS.campaigns_paused.labels(campaign=self.row.name, reason=kind).inc()
        self._log.error(
            "campaign_paused", reason=reason, hint=f"{hint}, then `dialer resume {self.row.name}`"
        )

    # -- leases ----------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        """Heartbeat our leases (and `dialer run`'s process); take over a dead worker's."""
        period = max(0.2, self.options.lease_seconds / 3)
        while True:
            if self.options.heartbeat:
                await self.store.heartbeat(self.options.worker_id, RUN, self.row.id)
            await anyio.sleep(period)
            await self._renew_leases()
            if not self.stopping.is_set():
                await self._take_over_expired()

    async def _renew_leases(self) -> None:
        """Renew our attempts' leases (also first thing when the store is back from an outage)."""
        ids = [*self._placer, *self._follower.attempt_ids()]
        await self.store.renew_leases(self.options.worker_id, ids, self.options.lease_seconds)

    async def _take_over_expired(self) -> None:
        assert self._dial_group is not None or self.stopping.is_set()
        taken = await self.store.take_over_expired(
            self.row.id, self.options.worker_id, self.options.lease_seconds
        )
        for attempt in taken:
            self._adopt(attempt)

    def _adopt(self, attempt: Attempt) -> None:
        if attempt.attempt_id in self._follower or attempt.attempt_id in self._placer:
            return
        self._log.info("attempt_taken_over", attempt=attempt.attempt_id, state=attempt.state)
        if attempt.state is AttemptState.PLACED and attempt.call_id:
            self._follower.follow(attempt, attempt.call_id, read_now=True)
        elif self._dial_group is not None:
            self._dial_group.start_soon(self._placer.reconcile, self._placer.take(attempt))
