"""The placer: sends one claimed attempt's create exactly once and writes what its answer proves.

An attempt row (and its lease) exists before its create is sent. The answer decides the rest:
- placed: the call is handed to the runner to follow;
- refused, with proof that no call exists: the lead is due again, or fails, as the domain says;
- ambiguous (a timeout, a 5xx, a dropped connection): the attempt is `in_doubt` and reconciled
  here — list-calls by the attempt id in metadata, then a resend with the same idempotency key —
  before the lead may be dialed again.

The key, the account or the address refused outright ends the run (`on_fatal`); the same refusal
for every create pauses the campaign (`domain.breaker.rejection_spike`).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import anyio
import structlog

from dialer.dialing.options import RunOptions, RunOutcome, RunResult, RunStats
from dialer.dialing.ports import CallApi, DialingStore
from dialer.dialing.pre_dial_gate import PreDialGate
from dialer.dialing.stopping import unless_stopped
from dialer.domain.breaker import REJECTION_SPIKE, rejection_spike
from dialer.domain.caller_id import voicemail_option
from dialer.domain.campaign import CampaignSettings
from dialer.domain.lifecycle import Cause, paused
from dialer.domain.next_call import call_settings
from dialer.domain.policy import (
    after_hook_failed,
    after_hook_refused,
    after_not_placed,
    after_outside_window,
)
from dialer.domain.predial import Allow, Failed, HookVerdict, Refuse
from dialer.domain.step_windows import window_wait
from dialer.domain.variants import dial_variant
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
from dialer.store import Attempt, CampaignRow

_OUTCOME_NAMES = {Placed: "placed", NotPlaced: "not_placed", Ambiguous: "in_doubt", Fatal: "fatal"}
IDEMPOTENCY_WINDOW = timedelta(minutes=55)  # Retell honors a key for one hour
RECONCILE_BACKOFF_MIN = 0.25
# Short enough that a handful of attempts in doubt probe a failing API every second or two (a
# resend with the same key is safe), so their slots free within seconds once it is back.
RECONCILE_BACKOFF_MAX = 8.0

OnPlaced = Callable[[Attempt, PhoneCall], Awaitable[None]]


class CallPlacer:
    """Places the calls of one campaign's claimed attempts in this process."""

    def __init__(
        self,
        store: DialingStore,
        client: CallApi,
        campaign: CampaignRow,
        options: RunOptions,
        stats: RunStats,
        stopping: anyio.Event,
        *,
        on_placed: OnPlaced,
        on_slot_freed: Callable[[], None],
        on_fatal: Callable[[RunResult], None],
        on_paused: Callable[[str, str, str], None],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self.store = store
        self.client = client
        self.row = campaign
        self.campaign = campaign.settings()
        self.options = options
        self.stats = stats
        self.stopping = stopping
        self._on_placed = on_placed
        self._on_slot_freed = on_slot_freed
        self._on_fatal = on_fatal
        self._on_paused = on_paused
        self._log = log
        self._busy: dict[str, Attempt] = {}  # dialing or reconciling in this process
        # the latest creates' refusals (`status: message`), None for one that placed a call
        self._recent_creates: deque[str | None] = deque(maxlen=REJECTION_SPIKE)
        hook = self.campaign.pre_dial_hook
        self._hook = PreDialGate(hook) if hook else None

    def use(self, campaign: CampaignSettings) -> None:
        """The campaign's settings as reloaded: what the next attempts taken are placed with."""
        self.campaign = campaign

    def __len__(self) -> int:
        return len(self._busy)

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._busy

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._busy))

    def take(self, attempt: Attempt) -> Attempt:
        """Hold `attempt` as this process's to place (or reconcile); returns it with the
        voicemail option its create sends, worked out once (at its claim, or when it is taken
        over) and recorded when it is placed."""
        campaign = self.campaign
        option = voicemail_option(campaign.voicemail, attempt.number, campaign.retry.max_attempts)
        variant = dial_variant(attempt.variant, campaign.name, attempt.lead_key, campaign.variants)
        option = call_settings(campaign, variant, attempt.plan, option).voicemail
        attempt = replace(attempt, voicemail=option, variant=variant.name if variant else None)
        self._busy[attempt.attempt_id] = attempt
        return attempt

    async def aclose(self) -> None:
        if self._hook is not None:
            await self._hook.aclose()

    # -- placing ---------------------------------------------------------------------------

    async def dial(self, attempt: Attempt, delay: float) -> None:
        """Wait for the attempt's slot, ask the pre-dial hook, send the create, settle it."""
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
        wall_now = self.options.clock.now()
        opening = window_wait(self.campaign, attempt.plan, attempt.zone_key, wall_now)
        if opening is not None:
            await self._outside_window(attempt, opening - wall_now)
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
        variant = next((v for v in self.campaign.variants if v.name == attempt.variant), None)
        uses = call_settings(self.campaign, variant, attempt.plan, option)
        return CreateCallRequest(
            from_number=attempt.from_number or self.campaign.caller_ids[0],
            to_number=attempt.to_number,
            override_agent_id=uses.agent_id,
            override_agent_version=uses.agent_version,
            metadata=metadata,
            retell_llm_dynamic_variables={
                **attempt.dynamic_variables,
                **uses.dynamic_variables,
                **(variables or {}),
            },
            idempotency_key=attempt.attempt_id,
            agent_override={"agent": {"voicemail_option": option}} if option else None,
        )

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

    async def _outside_window(self, attempt: Attempt, opens_in: timedelta) -> None:
        """A step's call reached its dial after its named window closed: given back unsent,
        due again when the window opens (in wall-clock time, as calling hours are)."""
        window = str((attempt.plan or {}).get("window"))
        decision = after_outside_window(attempt.number, await self.store.now(), opens_in, window)
        self._log.info("outside_step_window", attempt=attempt.attempt_id, window=window)
        await self.store.record_not_placed(
            attempt, self.options.worker_id, decision, error=None, sent=False
        )
        self._busy.pop(attempt.attempt_id, None)

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
        self._on_slot_freed()

    # -- settling a create's answer --------------------------------------------------------

    async def _settle(self, attempt: Attempt, outcome: CreateOutcome) -> None:
        """Write what a create answer proves, then follow, requeue, fail or reconcile."""
        outcome_name = _OUTCOME_NAMES[type(outcome)]
        METRICS.calls_placed.labels(campaign=self.row.name, outcome=outcome_name).inc()
        if isinstance(outcome, Placed):
            self._recent_creates.append(None)
            await self._on_placed(attempt, outcome.call)
            self._busy.pop(attempt.attempt_id, None)
            return
        if isinstance(outcome, Ambiguous):
            self.stats.in_doubt += 1
            self._log.warning("create_in_doubt", attempt=attempt.attempt_id, reason=outcome.reason)
            await self.store.record_in_doubt(attempt, self.options.worker_id, outcome.reason)
            await self.reconcile(attempt)
            return
        self._busy.pop(attempt.attempt_id, None)
        self._on_slot_freed()
        if isinstance(outcome, Fatal):
            await self._refused_outright(attempt, outcome)
            return
        self.stats.not_placed += 1
        if outcome.permanent:
            await self._rejected(attempt, outcome)
            return
        retry_in = outcome.retry_after if outcome.retry_after is not None else 1.0
        if outcome.status == 429:
            await self.store.hold(self.row.id, retry_in)
        error = f"{outcome.status or 'not sent'}: {outcome.reason}"
        await self._not_placed(attempt, error, retry_in=retry_in)

    async def _refused_outright(self, attempt: Attempt, outcome: Fatal) -> None:
        """The key, the account or the address is wrong: no create can succeed; stop."""
        await self._not_placed(attempt, outcome.reason, retry_in=0.0)
        if outcome.account:
            result = RunResult(
                RunOutcome.FATAL, f"Retell refused the request ({outcome.status}): {outcome.reason}"
            )
        else:
            result = RunResult(
                RunOutcome.MISCONFIGURED,
                f"Retell has no create-phone-call at {self.client.base_url} (404: "
                f"{outcome.reason}): is RETELL_BASE_URL right? Retell's is "
                "https://api.retellai.com, with no path",
            )
        self._log.error("api_refused", status=outcome.status, reason=outcome.reason)
        self._on_fatal(result)

    async def _rejected(self, attempt: Attempt, outcome: NotPlaced) -> None:
        """Retell refused this lead's create for good (a 4xx): the lead fails — unless every
        recent create was refused alike, which says the campaign, not the lead, is wrong."""
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
            self._on_paused(spike, Cause.FAILURE_SPIKE, "see the reason")

    async def _not_placed(self, attempt: Attempt, error: str, *, retry_in: float | None) -> None:
        """The answer proves no call exists: the lead fails (`retry_in` None) or is due again."""
        now = await self.store.now()
        wait = None if retry_in is None else timedelta(seconds=retry_in)
        decision = after_not_placed(attempt.number, now, retry_in=wait, error=error)
        await self.store.record_not_placed(attempt, self.options.worker_id, decision, error=error)

    # -- in doubt --------------------------------------------------------------------------

    async def reconcile(self, attempt: Attempt) -> None:
        """Settle an attempt in doubt: find its call by metadata, else resend with the same key.
        Faults back off (jittered, up to RECONCILE_BACKOFF_MAX), and start over the moment the
        failing endpoint answers again."""
        delay = RECONCILE_BACKOFF_MIN
        while not self.stopping.is_set():
            failing = "list-calls"
            try:
                calls = await self.client.find_calls_by_metadata("attempt_id", attempt.attempt_id)
            except RetellError as exc:  # said once per run of failures, not per read
                if delay == RECONCILE_BACKOFF_MIN:
                    self._log.info(
                        "reconcile_list_failed", attempt=attempt.attempt_id, error=str(exc)
                    )
                calls = None
            if calls:
                if len(calls) > 1:
                    self._log.error(
                        "duplicate_calls_for_attempt",
                        attempt=attempt.attempt_id,
                        calls=[c.call_id for c in calls],
                    )
                self._log.info("reconciled", attempt=attempt.attempt_id, call=calls[0].call_id)
                await self._on_placed(attempt, calls[0])
                self._busy.pop(attempt.attempt_id, None)
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
        answered = await unless_stopped(
            self.stopping, lambda: self.client.answered_again(endpoint, seconds)
        )
        return bool(answered)
