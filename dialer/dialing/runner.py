"""The runner: claims due leads, places each call exactly once, follows it to its end.

Every state change is one short transaction in the store, written before the next step that
depends on it, so a process killed at any instant leaves a state the next run can finish:
- an attempt row (and its lease) exists before its create request is sent;
- an ambiguous create leaves the attempt `in_doubt`: it is reconciled (list-calls by the
  attempt id in metadata, then a resend with the same idempotency key) before the lead may be
  dialed again;
- a call with a known id is followed until terminal, by us or, once our lease lapses, by
  whoever takes the attempt over.

While no connection to Retell can be made (the client says so), nothing new is claimed and a
claimed lead not yet sent is handed back unsent: a refused connection proves no call, so
this only saves the store a stream of requeued attempts.

What happens to a lead is decided by the domain (dialer.domain.policy); the store records it.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace
from datetime import timedelta

import anyio
import anyio.abc
import structlog

from dialer.dialing.caller_id_plan import caller_id_plan
from dialer.dialing.calling_gate import CallingGate
from dialer.dialing.follower import CallFollower, FollowedCall
from dialer.dialing.options import RunOptions, RunOutcome, RunResult, RunStats
from dialer.dialing.ports import CallApi, DialingStore
from dialer.dialing.pre_dial_gate import PreDialGate
from dialer.domain.breaker import REJECTION_SPIKE, rejection_spike
from dialer.domain.call_end import HealthRules
from dialer.domain.caller_id import leaves_message, voicemail_option
from dialer.domain.calling_rules import PlaceFilter
from dialer.domain.lifecycle import Cause, paused
from dialer.domain.policy import (
    after_call,
    after_hook_failed,
    after_hook_refused,
    after_not_placed,
)
from dialer.domain.predial import Allow, Failed, HookVerdict, Refuse
from dialer.domain.state_rules import caps_by_state
from dialer.domain.states import AttemptState, CampaignStatus
from dialer.inputs.rule_book import calling_rules
from dialer.observability.logs import loggable_number
from dialer.observability.metrics import METRICS
from dialer.retell import (
    Ambiguous,
    CreateCallRequest,
    CreateOutcome,
    Fatal,
    NotPlaced,
    PhoneCall,
    Placed,
    RetellError,
)
from dialer.store import RUN, Attempt, CampaignRow, Claim, ClaimRequest, NumberBusyError

log = structlog.get_logger("dialer.runner")

_OUTCOME_NAMES = {Placed: "placed", NotPlaced: "not_placed", Ambiguous: "in_doubt", Fatal: "fatal"}
IDEMPOTENCY_WINDOW = timedelta(minutes=55)  # Retell honors a key for one hour
RELEASE_SECONDS = 5.0  # how long a stopping runner tries to hand its leases back
RECONCILE_BACKOFF_MIN = 0.25
# Short enough that a handful of attempts in doubt probe a failing API every second or two (a
# resend with the same key is safe), so their slots free within seconds once it is back.
RECONCILE_BACKOFF_MAX = 8.0
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
        self.campaign = campaign.settings()
        self.options = options
        self.stats = RunStats()
        self.stopping = anyio.Event()
        # One event per waiter: a waiter that re-arms its event must not swallow another's wake-up.
        self._wakes = {"claim": anyio.Event(), "end": anyio.Event()}
        self._fatal: RunResult | None = None  # the key, the account or the address refused
        # the latest creates' refusals (`status: message`), None for one that placed a call
        self._recent_creates: deque[str | None] = deque(maxlen=REJECTION_SPIKE)
        self._status = campaign.status
        self._account_cap: int | None = None
        self._busy: dict[str, Attempt] = {}  # dialing or reconciling in this process
        self._dial_group: anyio.abc.TaskGroup | None = None
        self._log = log.bind(campaign=campaign.name, worker=options.worker_id)
        self._follower = CallFollower(
            client, options, self._call_ended, self._log, on_analysis=self._analysis_came
        )
        rules = calling_rules(self.campaign)
        self._gate = CallingGate(store, campaign.id, rules, options.clock)
        self._health = HealthRules.of(self.campaign)
        self._claim_request = ClaimRequest(  # what every claim of this campaign may take
            pacing=self.campaign.pacing,
            limit=options.claim_batch,
            lease_seconds=options.lease_seconds,
            speed=options.speed,
            per_number_per_day=self.campaign.max_attempts_per_number_per_day,
            budget_usd=self.campaign.budget_usd,
            cost_per_minute=self.campaign.cost_per_minute,
            dedupe_across=self.campaign.dedupe_across_campaigns,
            require_consent=self.campaign.require_consent,
            min_recall_gap=self.campaign.min_recall_gap,
            state_caps=caps_by_state(rules.states),
            caller_ids=caller_id_plan(self.campaign),
            campaign=campaign.name,
        )
        hook = self.campaign.pre_dial_hook
        self._hook = PreDialGate(hook) if hook else None

    # -- public ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight requests finish within the grace period."""
        self.stopping.set()
        self._nudge()

    def slot_freed(self) -> None:
        """Another process freed one of the campaign's slots: claim now, not at the next poll."""
        self._wakes["claim"].set()

    async def call_reported(self, call: PhoneCall) -> bool:
        """A webhook told how a call stands; returns whether this runner follows the call."""
        return await self._follower.report(call)

    @property
    def active_calls(self) -> int:
        return len(self._follower) + len(self._busy)

    async def run(self) -> RunResult:
        try:
            with self.store.availability.when_back(self._renew_leases):
                return await self._run()
        finally:
            if self._hook is not None:
                await self._hook.aclose()

    async def _run(self) -> RunResult:
        await self._read_account_capacity()
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
            self._status = row.status if row else CampaignStatus.CANCELLED
            reason = row.status_reason if row else None
            self._note_pause(reason)
            if self.active_calls == 0:
                result = await self._result_if_over(reason or "")
                if result is not None and not await self._details_still_coming():
                    return result

    async def _result_if_over(self, reason: str) -> RunResult | None:
        """How the run ends now that no call is in flight; None while it goes on."""
        if self._status is CampaignStatus.PAUSED:
            return None if self.options.wait_while_paused else RunResult(RunOutcome.PAUSED, reason)
        if self._status is CampaignStatus.CANCELLED:
            return RunResult(RunOutcome.CANCELLED, reason)
        if await self.store.has_unfinished_leads(self.row.id):
            return None
        return RunResult(RunOutcome.FINISHED)

    def _note_pause(self, reason: str | None) -> None:
        """While `dialer run` waits out a pause: say once why, and what resumes it."""
        paused = self._status is CampaignStatus.PAUSED
        if paused and self.stats.paused is None and self.options.wait_while_paused:
            self._log.warning(
                "campaign_paused_waiting",
                reason=reason,
                hint=f"calls in progress are followed; `dialer resume {self.row.name}` continues",
            )
        elif not paused and self.stats.paused is not None:
            self._log.warning("campaign_resumed")
        self.stats.paused = (reason or "paused") if paused else None

    async def _details_still_coming(self) -> bool:
        """The run is over, but Retell has not yet given the analysis, cost or recording of
        some ended calls (they come a while after the end): wait for them, up to the
        follower's limit, so the results (and the spend) are whole."""
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
            places = await self._places()
            try:
                claim = await self.store.claim(
                    self.row.id,
                    self.options.worker_id,
                    self._claim_request,
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
                attempt = self._with_voicemail(claimed)
                self._busy[attempt.attempt_id] = attempt
                assert attempt.send_at is not None
                slot_in = (attempt.send_at - claim.now).total_seconds()
                delay = slot_in - (anyio.current_time() - claimed_at)
                self._dial_group.start_soon(self._dial, attempt, delay)
            if claim.attempts and claim.free_slots > 0:
                continue
            wait = await self._claim_wait(claim, places)
            with anyio.move_on_after(wait):
                await self._woken("claim")

    async def _wait_for_retell(self) -> None:
        """No connection to Retell can be made: every create would be refused, so claim nothing
        until it answers again (or until a stop)."""
        async with anyio.create_task_group() as group:

            async def until_back() -> None:
                await self.client.until_reachable(RETELL_PROBE_SECONDS)
                group.cancel_scope.cancel()

            group.start_soon(until_back)
            await self.stopping.wait()
            group.cancel_scope.cancel()

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

    # -- placing ---------------------------------------------------------------------------

    def _request(
        self, attempt: Attempt, variables: dict[str, str] | None = None
    ) -> CreateCallRequest:
        metadata = {
            **attempt.call_metadata,
            "campaign": self.campaign.name,
            "lead_id": attempt.lead_id,
            "attempt_id": attempt.attempt_id,
        }
        option = attempt.voicemail
        return CreateCallRequest(
            from_number=attempt.from_number or self.campaign.caller_ids[0],
            to_number=attempt.to_number,
            override_agent_id=self.campaign.agent_id,
            metadata=metadata,
            retell_llm_dynamic_variables={**attempt.dynamic_variables, **(variables or {})},
            idempotency_key=attempt.attempt_id,
            agent_override={"agent": {"voicemail_option": option}} if option else None,
        )

    def _with_voicemail(self, attempt: Attempt) -> Attempt:
        """The attempt with the voicemail option its create sends, worked out once (at its
        claim, or when it is taken over) and recorded when it is placed."""
        option = voicemail_option(
            self.campaign.voicemail, attempt.number, self.campaign.retry.max_attempts
        )
        return replace(attempt, voicemail=option)

    async def _dial(self, attempt: Attempt, delay: float) -> None:
        if delay > 0:
            with anyio.move_on_after(delay):
                await self.stopping.wait()
        if self.stopping.is_set() or self.client.unreachable is not None:
            # Never sent (stopping, or Retell cannot be reached): hand the lead back with its
            # attempt refunded.
            now = await self.store.now()
            decision = after_not_placed(attempt.number, now, retry_in=timedelta(0), error=None)
            await self.store.record_not_placed(
                attempt, self.options.worker_id, decision, error=None, sent=False
            )
            self._busy.pop(attempt.attempt_id, None)
            return
        variables: dict[str, str] = {}
        if self._hook is not None:
            verdict = await self._ask_hook(attempt)
            if not isinstance(verdict, Allow):
                await self._not_dialed(attempt, verdict)
                return
            variables = verdict.dynamic_variables
        self.stats.dial_times.append(anyio.current_time())
        outcome = await self.client.create_phone_call(self._request(attempt, variables))
        await self._settle(attempt, outcome)

    async def _ask_hook(self, attempt: Attempt) -> HookVerdict:
        assert self._hook is not None
        return await self._hook.ask(
            {
                "campaign": self.campaign.name,
                "lead_id": attempt.lead_id,
                "to_number": attempt.to_number,
                "attempt": attempt.number,
                "dynamic_variables": attempt.dynamic_variables,
                "metadata": attempt.call_metadata,
            }
        )

    async def _not_dialed(self, attempt: Attempt, verdict: Refuse | Failed) -> None:
        """The pre-dial hook said no (the lead ends skipped with its reason) or did not answer
        well (fail closed: not dialed, no attempt spent, asked again later)."""
        now = await self.store.now()
        if isinstance(verdict, Refuse):
            decision = after_hook_refused(verdict.reason)
            self._log.info("pre_dial_refused", attempt=attempt.attempt_id, reason=verdict.reason)
        else:
            assert self._hook is not None
            retry_in = self._hook.hook.retry_after / self.options.speed
            decision = after_hook_failed(attempt.number, now, retry_in)
            METRICS.pre_dial_hook_failures.labels(campaign=self.row.name).inc()
            self._log.warning("pre_dial_hook_failed", attempt=attempt.attempt_id, why=verdict.why)
        await self.store.record_not_placed(
            attempt, self.options.worker_id, decision, error=None, sent=False
        )
        self._busy.pop(attempt.attempt_id, None)
        self._nudge()

    async def _settle(self, attempt: Attempt, outcome: CreateOutcome) -> None:
        """Write what a create answer proves, then follow, requeue, fail or reconcile."""
        worker = self.options.worker_id
        outcome_name = _OUTCOME_NAMES[type(outcome)]
        METRICS.calls_placed.labels(campaign=self.row.name, outcome=outcome_name).inc()
        if isinstance(outcome, Placed):
            self._recent_creates.append(None)
            await self._follow(attempt, outcome.call)
            return
        if isinstance(outcome, Ambiguous):
            self.stats.in_doubt += 1
            self._log.warning("create_in_doubt", attempt=attempt.attempt_id, reason=outcome.reason)
            await self.store.record_in_doubt(attempt, worker, outcome.reason)
            assert self._dial_group is not None
            self._dial_group.start_soon(self._reconcile, attempt)
            return
        self._busy.pop(attempt.attempt_id, None)
        self._nudge()
        if isinstance(outcome, Fatal):
            await self._not_placed(attempt, outcome.reason, retry_in=0.0)
            if outcome.account:
                self._fatal = RunResult(
                    RunOutcome.FATAL,
                    f"Retell refused the request ({outcome.status}): {outcome.reason}",
                )
            else:
                self._fatal = RunResult(
                    RunOutcome.MISCONFIGURED,
                    f"Retell has no create-phone-call at {self.client.base_url} (404: "
                    f"{outcome.reason}): is RETELL_BASE_URL right? Retell's is "
                    "https://api.retellai.com, with no path",
                )
            self._log.error("api_refused", status=outcome.status, reason=outcome.reason)
            self.stop()
            return
        self.stats.not_placed += 1
        if outcome.permanent:
            self._log.warning(
                "create_rejected",
                attempt=attempt.attempt_id,
                status=outcome.status,
                reason=outcome.reason,
                to=loggable_number(attempt.to_number),
            )
            error = f"{outcome.status}: {outcome.reason}"
            self._recent_creates.append(error)
            spike = rejection_spike(self._recent_creates)
            if spike is None:
                await self._not_placed(attempt, error, retry_in=None)
                return
            # every create is refused alike: this lead gets its attempt back, the campaign pauses
            await self._not_placed(attempt, error, retry_in=0.0)
            if await self.store.change_status(self.row.id, paused(Cause.FAILURE_SPIKE, spike)):
                self._paused(spike, Cause.FAILURE_SPIKE, "see the reason")
            return
        retry_in = outcome.retry_after if outcome.retry_after is not None else 1.0
        if outcome.status == 429:
            await self.store.hold(self.row.id, retry_in)
        error = f"{outcome.status or 'not sent'}: {outcome.reason}"
        await self._not_placed(attempt, error, retry_in=retry_in)

    async def _not_placed(self, attempt: Attempt, error: str, *, retry_in: float | None) -> None:
        """The answer proves no call exists: the lead fails (`retry_in` None) or is due again."""
        now = await self.store.now()
        wait = None if retry_in is None else timedelta(seconds=retry_in)
        decision = after_not_placed(attempt.number, now, retry_in=wait, error=error)
        await self.store.record_not_placed(attempt, self.options.worker_id, decision, error=error)

    async def _reconcile(self, attempt: Attempt) -> None:
        """Settle an attempt in doubt: find its call by metadata, else resend with the same key.
        Faults back off (jittered, up to RECONCILE_BACKOFF_MAX), and start over the moment the
        failing endpoint answers again."""
        delay = RECONCILE_BACKOFF_MIN
        while not self.stopping.is_set():
            failing = "list-calls"
            try:
                calls = await self.client.find_calls_by_metadata("attempt_id", attempt.attempt_id)
            except RetellError as exc:
                self._log.info("reconcile_list_failed", attempt=attempt.attempt_id, error=str(exc))
                calls = None
            if calls:
                if len(calls) > 1:
                    self._log.error(
                        "duplicate_calls_for_attempt",
                        attempt=attempt.attempt_id,
                        calls=[c.call_id for c in calls],
                    )
                self._log.info("reconciled", attempt=attempt.attempt_id, call=calls[0].call_id)
                await self._follow(attempt, calls[0])
                return
            if calls is not None:
                if await self.store.now() - attempt.created_at > IDEMPOTENCY_WINDOW:
                    # Listed as absent, and too old for a resend to be deduplicated: no call.
                    await self._settle(attempt, NotPlaced("reconciled: no call exists", None))
                    return
                wait = await self.store.reserve_dial_slot(
                    self.row.id, self.campaign.pacing, self.options.speed
                )
                await anyio.sleep(wait)
                self.stats.dial_times.append(anyio.current_time())
                outcome = await self.client.create_phone_call(self._request(attempt))
                if not isinstance(outcome, Ambiguous):
                    self._log.info("reconciled_by_resend", attempt=attempt.attempt_id)
                    await self._settle(attempt, outcome)
                    return
                failing = "create-phone-call"
            if await self._back_off(failing, delay * random.uniform(0.5, 1.0)):
                delay = RECONCILE_BACKOFF_MIN  # Retell answers again: no reason to wait longer
            else:
                delay = min(delay * 2, RECONCILE_BACKOFF_MAX)
        # Stopping: the attempt stays in doubt; the next run reconciles it.
        self._busy.pop(attempt.attempt_id, None)

    async def _back_off(self, endpoint: str, seconds: float) -> bool:
        """Wait `seconds`, or less: until a stop, or until `endpoint` answers again after a
        fault (then True)."""
        answered = False
        async with anyio.create_task_group() as group:

            async def until_answered() -> None:
                nonlocal answered
                answered = await self.client.answered_again(endpoint, seconds)
                group.cancel_scope.cancel()

            group.start_soon(until_answered)
            await self.stopping.wait()
            group.cancel_scope.cancel()
        return answered

    # -- following -------------------------------------------------------------------------

    async def _follow(self, attempt: Attempt, call: PhoneCall) -> None:
        ok = await self.store.record_placed(
            attempt,
            self.options.worker_id,
            call.call_id,
            call.call_status,
            self.options.lease_seconds,
        )
        self._busy.pop(attempt.attempt_id, None)
        if not ok:
            self._log.warning("lease_lost", attempt=attempt.attempt_id)
            return
        self.stats.placed += 1
        self._log.info(
            "call_placed",
            attempt=attempt.attempt_id,
            call=call.call_id,
            to=loggable_number(attempt.to_number),
        )
        self._follower.follow(attempt, call)

    async def _call_ended(self, followed: FollowedCall, call: PhoneCall, source: str) -> None:
        """The follower saw the call's end: one decision — the lead's next state, what the call
        does to its from-number and to the campaign — written in one transaction."""
        attempt = followed.attempt
        decision = after_call(
            self.campaign,
            attempt.number,
            attempt.zone_key,
            call.call_status,
            call.disconnection_reason,
            now=await self.store.now(),
            wall_now=self.options.clock.now(),
            speed=self.options.speed,
            voicemail_left=leaves_message(attempt.voicemail),
            has_next_number=attempt.has_next_number,
        )
        with anyio.CancelScope(shield=True):
            done = await self.store.record_call_end(
                attempt, self.options.worker_id, decision, call.call_end(), self._health
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
        if done.paused is not None and done.paused.reason is not None:
            if done.paused.cause is Cause.ACCOUNT:
                self._paused(done.paused.reason, done.paused.reason, "fix the account or number")
            else:
                self._paused(done.paused.reason, done.paused.cause, "see the reason")

    def _number_retired(self, from_number: str | None, reason: str) -> None:
        METRICS.numbers_retired.labels(campaign=self.row.name).inc()
        self._log.warning(
            "from_number_retired",
            number=loggable_number(from_number or ""),
            reason=reason,
            hint="its leads move to the pool's other numbers",
        )

    async def _analysis_came(self, call: PhoneCall) -> None:
        """Retell finished a call's analysis (or its cost) after the call ended."""
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
        """Heartbeat our leases (and, for `dialer run`, this process); take over attempts
        whose worker died."""
        period = max(0.2, self.options.lease_seconds / 3)
        while True:
            if self.options.heartbeat:
                await self.store.heartbeat(self.options.worker_id, RUN, self.row.id)
            await anyio.sleep(period)
            await self._renew_leases()
            if not self.stopping.is_set():
                await self._take_over_expired()

    async def _renew_leases(self) -> None:
        """Renew the leases of every attempt this runner works on (also the first thing done
        when the store answers again after an outage)."""
        ids = [*self._busy, *self._follower.attempt_ids()]
        await self.store.renew_leases(self.options.worker_id, ids, self.options.lease_seconds)

    async def _take_over_expired(self) -> None:
        assert self._dial_group is not None or self.stopping.is_set()
        taken = await self.store.take_over_expired(
            self.row.id, self.options.worker_id, self.options.lease_seconds
        )
        for attempt in taken:
            self._adopt(attempt)

    def _adopt(self, attempt: Attempt) -> None:
        if attempt.attempt_id in self._follower or attempt.attempt_id in self._busy:
            return
        self._log.info("attempt_taken_over", attempt=attempt.attempt_id, state=attempt.state)
        if attempt.state is AttemptState.PLACED and attempt.call_id:
            self._follower.follow(attempt, attempt.call_id, read_now=True)
        elif self._dial_group is not None:
            attempt = self._with_voicemail(attempt)
            self._busy[attempt.attempt_id] = attempt
            self._dial_group.start_soon(self._reconcile, attempt)
