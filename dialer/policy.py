"""What happens to a lead after a call: a pure function of the campaign's rules and the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dialer.campaign import RetryRules

# retell-api.md, "Outcomes a dialer should treat alike".
ACCOUNT_BROKEN = frozenset(
    {
        "no_valid_payment",
        "credit_exhausted",
        "budget_reached",
        "telephony_provider_permission_denied",
        "sip_routing_error",
        "marked_as_spam",
    }
)
# Our own account was over its concurrency: the callee never heard a ring.
OVER_ACCOUNT_CONCURRENCY = frozenset({"concurrency_limit_reached", "no_concurrency_fallback"})
NEVER_CONNECTED = frozenset(
    {
        "dial_no_answer",
        "dial_busy",
        "dial_failed",
        "invalid_destination",
        "user_declined",
        "telephony_provider_unavailable",
        "network_blocked",
        "registered_call_timeout",
        "scam_detected",
        *OVER_ACCOUNT_CONCURRENCY,
    }
)
REACHED = frozenset(
    {
        "user_hangup",
        "agent_hangup",
        "call_transfer",
        "transfer_bridged",
        "transfer_cancelled",
        "inactivity",
        "max_duration_reached",
        "user_requested_dnc",
        "user_requested_callback",
        "voicemail_reached",
        "machine_detected",
        "ivr_reached",
        "manual_stopped",
        "call_take_over",
    }
)
DEFAULT_CALLBACK_DELAY = timedelta(days=1)
OVER_CONCURRENCY_DELAY = timedelta(seconds=30)


class LeadState(StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    IN_CALL = "in_call"
    RETRY_WAIT = "retry_wait"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Decision:
    """The lead's next state. `refund`: the attempt does not count (the callee never had a
    chance because of our side); `suppress`: never call this number again, in any campaign;
    `pause_reason`: stop the campaign until a person fixes the account."""

    state: LeadState
    next_attempt_at: datetime | None = None
    refund: bool = False
    suppress: bool = False
    pause_reason: str | None = None
    why: str = ""
    # A callback without a configured delay: the caller moves `next_attempt_at` to the
    # lead's first calling window on the next local day (dialer.hours.next_day_opening).
    next_day_window: bool = False


KNOWN_REASONS = REACHED | NEVER_CONNECTED | ACCOUNT_BROKEN


def is_error_outcome(call_status: str, reason: str | None) -> bool:
    """`error` in retry_on covers status error, every error_* reason, and any reason this
    version of dialer does not know (a generic failure, never a crash)."""
    if call_status == "error" or (reason or "").startswith("error"):
        return True
    return reason is not None and reason not in KNOWN_REASONS


def _matches_retry_on(rules: RetryRules, call_status: str, reason: str | None) -> bool:
    if reason and reason in rules.retry_on:
        return True
    return "error" in rules.retry_on and is_error_outcome(call_status, reason)


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
    time_scale: float = 1.0,
) -> Decision:
    """The next state of a lead whose latest call ended with (`call_status`, `reason`).

    `attempts_spent` includes the call that just ended. `time_scale` > 1 compresses waits
    (the simulator's accelerated clock).
    """

    def later(delay: timedelta) -> datetime:
        return now + delay / time_scale

    attempts_left = attempts_spent < rules.max_attempts
    if reason in ACCOUNT_BROKEN:
        return Decision(LeadState.RETRY_WAIT, now, refund=True, pause_reason=reason, why=reason)
    if reason in OVER_ACCOUNT_CONCURRENCY and reason not in rules.retry_on:
        return Decision(
            LeadState.RETRY_WAIT, later(OVER_CONCURRENCY_DELAY), refund=True, why=reason
        )
    if reason == "user_requested_dnc":
        return Decision(LeadState.COMPLETED, suppress=True, why=reason)
    if reason == "user_requested_callback":
        if attempts_left:
            delay = rules.callback_delay
            return Decision(
                LeadState.RETRY_WAIT,
                later(DEFAULT_CALLBACK_DELAY if delay is None else delay),
                why="callback requested",
                next_day_window=delay is None,  # no delay set: the next local day's window
            )
        return Decision(LeadState.COMPLETED, why="callback requested, no attempts left")
    if _matches_retry_on(rules, call_status, reason):
        if attempts_left:
            wait = backoff_before(rules, attempts_spent + 1)
            return Decision(LeadState.RETRY_WAIT, later(wait), why=reason or call_status)
        return Decision(LeadState.FAILED, why=f"{reason or call_status}; max_attempts spent")
    if reason in REACHED and call_status == "ended":
        return Decision(LeadState.COMPLETED, why=reason)
    # never connected, an error not in retry_on, or a reason this version does not know
    return Decision(LeadState.FAILED, why=reason or call_status)
