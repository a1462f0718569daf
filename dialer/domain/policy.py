"""What happens to a lead after a call or a refused create: pure functions of the campaign's
rules, the outcome and the instants they are judged at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from dialer.domain.calling_rules import CallingRules
from dialer.domain.calls import CallStatus
from dialer.domain.campaign import CampaignSettings, RetryRules
from dialer.domain.hours import Window, effective_zones, next_day_opening
from dialer.domain.predial import HOOK_FAILED
from dialer.domain.reasons import (
    ACCOUNT_BROKEN,
    KNOWN_REASONS,  # noqa: F401 (tests and older callers import it from here)
    OVER_ACCOUNT_CONCURRENCY,
    REACHED,
)
from dialer.domain.routing import LastCall, Route, campaign_steps, is_error, route
from dialer.domain.states import LeadState
from dialer.domain.step_windows import window_opening
from dialer.domain.steps import Step, retry_steps

MARKED_AS_SPAM = "marked_as_spam"
# Endings where the agent met a machine: a voicemail option may have left a message there.
LEFT_A_MESSAGE = frozenset({"voicemail_reached", "machine_detected"})
MACHINES = LEFT_A_MESSAGE | {"ivr_reached"}
DEFAULT_CALLBACK_DELAY = timedelta(days=1)
VOICEMAIL_LEFT = "voicemail message left"  # why a lead a voicemail message reached completes
OVER_CONCURRENCY_DELAY = timedelta(seconds=30)
WINDOW_WAIT = "step window"  # why a lead waits: its step's named window is closed


@dataclass(frozen=True)
class Decision:
    """The lead's next state. `next_attempt_at`: when it is due again (None: no time of its
    own); `refund`: the attempt does not count (the callee never had a chance because of our
    side); `suppress_reason`: never call this number again, in any campaign, for this reason;
    `pause_reason`: stop the campaign until a person fixes the account; `lead_reason`: what the
    lead records as the reason it failed without a call."""

    state: LeadState
    next_attempt_at: datetime | None = None
    refund: bool = False
    suppress_reason: str | None = None
    pause_reason: str | None = None
    lead_reason: str | None = None
    wait_reason: str | None = None  # why a lead due again waits (a rule deferred it)
    # the from-number that made the call is worn out: retire it for this campaign (the lead
    # gets another one)
    retire_reason: str | None = None
    next_number: bool = False  # move the lead to its next alternate number, attempts afresh
    why: str = ""
    # A callback without a configured delay: `after_call` moves `next_attempt_at` to the
    # lead's first calling window on the next local day.
    next_day_window: bool = False
    # A step's move to the next alternate number keeps the lead's attempt count
    keep_attempts: bool = False
    # what the lead's next attempt uses (a step's agent, version, variables, voicemail); a
    # call's end always writes it (None clears it)
    next_plan: dict[str, Any] | None = None

    @property
    def suppress(self) -> bool:
        return self.suppress_reason is not None

    @property
    def due_again(self) -> bool:
        return self.state in (LeadState.PENDING, LeadState.RETRY_WAIT)


def is_error_outcome(call_status: str, reason: str | None) -> bool:
    """`error` in retry_on covers status error, every error_* reason, and any reason this
    version of dialer does not know (a generic failure, never a crash)."""
    return is_error(call_status, reason)


def reached(call_status: str, reason: str | None) -> bool:
    """Whether the call reached a person (a voicemail box or an IVR is nobody)."""
    return call_status == CallStatus.ENDED and reason in REACHED and reason not in MACHINES


def backoff_before(rules: RetryRules, next_attempt: int) -> timedelta:
    """The wait before attempt `next_attempt` (2, 3, …); the last backoff value repeats."""
    index = max(0, min(next_attempt - 2, len(rules.backoff) - 1))
    return rules.backoff[index]


def decide(
    rules: RetryRules,
    attempts_spent: int,
    call_status: str,
    reason: str | None,
    now: datetime,
    *,
    speed: float = 1.0,
) -> Decision:
    """The next state of a lead whose latest call ended with (`call_status`, `reason`), by the
    retry block alone (compiled to steps).

    `attempts_spent` includes the call that just ended. `speed` > 1 compresses waits (the
    simulator's accelerated clock).
    """
    steps = retry_steps(rules.retry_on, rules.backoff, rules.callback_delay)
    last = LastCall(call_status, reason, attempts_spent)
    return _decided(steps, rules, last, now, speed)[0]


def _decided(
    steps: Sequence[Step], rules: RetryRules, last: LastCall, now: datetime, speed: float
) -> tuple[Decision, Route | None]:
    """Rules no step overrides (the account, our own concurrency, do-not-call), then the
    steps' route as the lead's next state."""
    reason, attempts_spent = last.reason, last.attempt

    def later(delay: timedelta) -> datetime:
        return now + delay / speed

    if reason in ACCOUNT_BROKEN:
        pause = Decision(LeadState.RETRY_WAIT, now, refund=True, pause_reason=reason, why=reason)
        return pause, None
    if reason in OVER_ACCOUNT_CONCURRENCY and reason not in rules.retry_on:
        refund = Decision(
            LeadState.RETRY_WAIT, later(OVER_CONCURRENCY_DELAY), refund=True, why=reason
        )
        return refund, None
    if reason == "user_requested_dnc":
        return Decision(LeadState.COMPLETED, suppress_reason=reason, why=reason), None
    found = route(steps, last, attempts_spent, rules.max_attempts)
    if found.action == "complete":
        return Decision(LeadState.COMPLETED, why=found.why), found
    if found.action == "skip":
        return Decision(LeadState.SKIPPED, lead_reason=found.reason, why=found.why), found
    if found.action == "fail":
        return Decision(LeadState.FAILED, why=found.why), found
    if found.action == "callback":
        wait = DEFAULT_CALLBACK_DELAY if found.next_day else found.wait
        decision = Decision(
            LeadState.RETRY_WAIT, later(wait), why=found.why, next_day_window=found.next_day
        )
        return decision, found
    decision = Decision(
        LeadState.RETRY_WAIT,
        later(found.wait),
        why=found.why,
        next_number=found.next_number,
        keep_attempts=found.next_number,
        next_plan=found.plan,
    )
    return decision, found


def after_call(
    settings: CampaignSettings,
    attempts_spent: int,
    zone_key: str,
    call_status: str,
    reason: str | None,
    *,
    now: datetime,
    wall_now: datetime,
    speed: float = 1.0,
    voicemail_left: bool = False,
    has_next_number: bool = False,
    last: LastCall | None = None,
    rules: CallingRules | None = None,
    states_key: str = "",
) -> Decision:
    """The campaign's steps (its own, then its retry block's) on the call's end, with a
    callback's next-day window and a step's named window worked out: `now` is the store's
    clock (when the lead becomes due), `wall_now` the clock calling hours are judged by (they
    differ when DIALER_CLOCK_START pins it), and waits are compressed by `speed`. With a pool
    of from-numbers, `marked_as_spam` retires the number that made the call instead of pausing
    the campaign; a voicemail message left completes the lead; a lead whose number is spent
    without reaching anyone moves on to its next number (`has_next_number`). `last` adds what
    the steps may read beyond the status and reason (number used, variant, analysis); `rules`
    (the campaign's calling rules) and the lead's `states_key` place a step's named window
    inside state rules, skip dates and holidays too (without them: inside calling hours)."""
    if reason == MARKED_AS_SPAM and settings.has_caller_id_pool:
        return Decision(
            LeadState.RETRY_WAIT, now, refund=True, retire_reason=reason, why="number retired"
        )
    if voicemail_left and reason in LEFT_A_MESSAGE and call_status == CallStatus.ENDED:
        return Decision(LeadState.COMPLETED, why=VOICEMAIL_LEFT)
    seen = last or LastCall(call_status, reason, attempts_spent)
    steps = campaign_steps(settings)
    decision, found = _decided(steps, settings.retry, seen, now, speed)
    if decision.next_number and not has_next_number:  # no alternate left: stay on this number
        decision = replace(decision, next_number=False, keep_attempts=False)
    if has_next_number and decision.state is LeadState.FAILED and not reached(call_status, reason):
        return Decision(
            LeadState.PENDING, now, next_number=True, why=f"{decision.why}; next number"
        )
    hours = settings.calling_hours
    if found is not None and found.window is not None and found.window in settings.windows:
        named = settings.windows[found.window]
        opens = window_opening(
            named, hours, zone_key, wall_now + found.wait, rules=rules, states_key=states_key
        )
        return replace(decision, next_attempt_at=now + (opens - wall_now) / speed)
    if not decision.next_day_window:
        return decision
    window = Window.of(hours) if hours else None
    zones: Sequence[str] = effective_zones(hours, zone_key) if hours else ()
    opening = next_day_opening(window, zones, wall_now)
    return Decision(
        decision.state,
        now + (opening - wall_now) / speed,
        why=decision.why,
    )


def after_not_placed(
    attempt_number: int, now: datetime, *, retry_in: timedelta | None, error: str | None
) -> Decision:
    """The create's answer proved no call exists. `retry_in` None: the API refused this lead
    for good (it fails, with `error` recorded); otherwise the attempt is given back and the
    lead is due again after `retry_in` — `pending` again if this was its first attempt."""
    if retry_in is None:
        return Decision(LeadState.FAILED, lead_reason=error, why=error or "refused")
    state = LeadState.PENDING if attempt_number <= 1 else LeadState.RETRY_WAIT
    return Decision(state, now + retry_in, refund=True, why=error or "not placed")


def after_hook_failed(attempt_number: int, now: datetime, retry_in: timedelta) -> Decision:
    """The pre-dial hook did not answer well: not dialed, the attempt given back, asked again
    after `retry_in`."""
    state = LeadState.PENDING if attempt_number <= 1 else LeadState.RETRY_WAIT
    return Decision(state, now + retry_in, refund=True, wait_reason=HOOK_FAILED, why="hook failed")


def after_hook_refused(reason: str) -> Decision:
    """The pre-dial hook said no: the lead ends skipped with its reason, no attempt spent."""
    return Decision(LeadState.SKIPPED, refund=True, lead_reason=reason, why=reason)


def after_outside_window(
    attempt_number: int, now: datetime, retry_in: timedelta, window: str
) -> Decision:
    """A step's attempt reached its dial outside the step's named window: not dialed, the
    attempt given back, due again when the window opens."""
    state = LeadState.PENDING if attempt_number <= 1 else LeadState.RETRY_WAIT
    return Decision(
        state,
        now + retry_in,
        refund=True,
        wait_reason=f"{WINDOW_WAIT} {window}",
        why=f"outside window {window}",
    )
