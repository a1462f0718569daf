"""The retry policy: pure, tested without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.domain.campaign import RetryRules
from dialer.domain.policy import KNOWN_REASONS, backoff_before, decide
from dialer.domain.states import LeadState

NOW = datetime(2027, 3, 2, 14, 30, tzinfo=UTC)
RULES = RetryRules(
    max_attempts=3,
    backoff=[timedelta(minutes=30), timedelta(hours=2)],
    retry_on=["dial_no_answer", "dial_busy", "voicemail_reached", "machine_detected", "error"],
)


def test_reached_is_completed() -> None:
    assert decide(RULES, 1, "ended", "user_hangup", NOW).state is LeadState.COMPLETED
    assert decide(RULES, 1, "ended", "agent_hangup", NOW).state is LeadState.COMPLETED


def test_retry_on_waits_for_the_backoff_then_fails_when_spent() -> None:
    first = decide(RULES, 1, "not_connected", "dial_no_answer", NOW)
    assert (first.state, first.next_attempt_at) == (
        LeadState.RETRY_WAIT,
        NOW + timedelta(minutes=30),
    )
    second = decide(RULES, 2, "not_connected", "dial_no_answer", NOW)
    assert second.next_attempt_at == NOW + timedelta(hours=2)
    third = decide(RULES, 3, "not_connected", "dial_no_answer", NOW)
    assert third.state is LeadState.FAILED


def test_last_backoff_repeats() -> None:
    rules = RULES.model_copy(update={"max_attempts": 6})
    assert [backoff_before(rules, n) for n in (2, 3, 4, 5)] == [
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=2),
        timedelta(hours=2),
    ]


def test_error_family_matches_error() -> None:
    for status, reason in [
        ("error", None),
        ("error", "error_llm_websocket_lost_connection"),
        ("ended", "error_asr"),
    ]:
        assert decide(RULES, 1, status, reason, NOW).state is LeadState.RETRY_WAIT


def test_unknown_reason_is_a_generic_failure_not_a_crash() -> None:
    assert decide(RULES, 1, "ended", "brand_new_reason_2030", NOW).state is LeadState.RETRY_WAIT
    no_error = RULES.model_copy(update={"retry_on": ["dial_busy"]})
    assert decide(no_error, 1, "ended", "brand_new_reason_2030", NOW).state is LeadState.FAILED


def test_not_connected_reasons_not_in_retry_on_fail() -> None:
    for reason in ("dial_failed", "invalid_destination", "user_declined"):
        assert decide(RULES, 1, "not_connected", reason, NOW).state is LeadState.FAILED


def test_account_outcomes_pause_and_refund() -> None:
    decision = decide(RULES, 1, "not_connected", "credit_exhausted", NOW)
    assert decision.pause_reason == "credit_exhausted"
    assert decision.refund
    assert decision.state is LeadState.RETRY_WAIT


def test_dnc_suppresses_and_callback_schedules() -> None:
    dnc = decide(RULES, 1, "ended", "user_requested_dnc", NOW)
    assert dnc.suppress and dnc.state is LeadState.COMPLETED
    callback = decide(RULES, 1, "ended", "user_requested_callback", NOW)
    assert callback.state is LeadState.RETRY_WAIT
    assert callback.next_attempt_at == NOW + timedelta(days=1)
    rules = RULES.model_copy(update={"callback_delay": timedelta(hours=3)})
    assert decide(
        rules, 1, "ended", "user_requested_callback", NOW
    ).next_attempt_at == NOW + timedelta(hours=3)
    assert decide(RULES, 3, "ended", "user_requested_callback", NOW).state is LeadState.COMPLETED


def test_speed_compresses_waits() -> None:
    decision = decide(RULES, 1, "not_connected", "dial_busy", NOW, speed=60)
    assert decision.next_attempt_at == NOW + timedelta(seconds=30)


OUTCOMES = {
    "status": st.sampled_from(["ended", "error", "not_connected", "weird"]),
    "reason": st.one_of(st.none(), st.sampled_from(sorted(KNOWN_REASONS)), st.text(max_size=20)),
}


@given(attempts=st.integers(min_value=RULES.max_attempts, max_value=10), **OUTCOMES)
def test_never_beyond_max_attempts(attempts: int, status: str, reason: str | None) -> None:
    """Once max_attempts are spent, no outcome brings a charged retry: the lead is over, or
    gets its attempt back (an outcome on our side)."""
    decision = decide(RULES, attempts, status, reason, NOW)
    charged_retry = decision.state is LeadState.RETRY_WAIT and not decision.refund
    assert not charged_retry


@given(
    attempts=st.integers(min_value=1, max_value=RULES.max_attempts - 1),
    reason=st.sampled_from(sorted(set(RULES.retry_on) - {"error"})),
)
def test_a_retry_on_outcome_with_attempts_left_is_retried_later(attempts: int, reason: str) -> None:
    decision = decide(RULES, attempts, "not_connected", reason, NOW)
    assert decision.state is LeadState.RETRY_WAIT and not decision.refund
    assert decision.next_attempt_at is not None and decision.next_attempt_at > NOW


@pytest.mark.parametrize(
    "text,seconds",
    [("30m", 1800), ("2h", 7200), ("1s", 1), ("1h30m", 5400), ("500ms", 0.5), (45, 45)],
)
def test_durations_parse(text: str | int, seconds: float) -> None:
    from dialer.domain.durations import parse_duration

    assert parse_duration(text).total_seconds() == seconds


@given(st.integers(min_value=0, max_value=10**10))
def test_durations_round_trip_through_the_store_format(millis: int) -> None:
    from dialer.domain.durations import format_duration, parse_duration

    delta = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(delta)) == delta


def test_a_callback_without_a_delay_waits_for_the_next_local_days_window() -> None:
    from dialer.domain.campaign import CampaignSettings
    from dialer.domain.policy import after_call

    settings = CampaignSettings.model_validate(
        {
            "name": "c",
            "from_number": "+14155550100",
            "calling_hours": {"start": "09:00", "end": "20:00"},
        }
    )
    wall = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York, Tuesday
    decision = after_call(
        settings,
        1,
        "America/New_York",
        "ended",
        "user_requested_callback",
        now=NOW,
        wall_now=wall,
    )
    # Wednesday 09:00 in New York is 14:00 UTC, 23 hours after `wall`; the lead is due then,
    # counted from the store's own clock
    assert decision.state is LeadState.RETRY_WAIT
    assert decision.next_attempt_at == NOW + timedelta(hours=23)
    fast = after_call(
        settings,
        1,
        "America/New_York",
        "ended",
        "user_requested_callback",
        now=NOW,
        wall_now=wall,
        speed=60,
    )
    assert fast.next_attempt_at == NOW + timedelta(minutes=23)


def test_a_refused_create_fails_the_lead_or_gives_the_attempt_back() -> None:
    from dialer.domain.policy import after_not_placed

    refused = after_not_placed(1, NOW, retry_in=None, error="422: bad number")
    assert (refused.state, refused.lead_reason, refused.refund) == (
        LeadState.FAILED,
        "422: bad number",
        False,
    )
    first = after_not_placed(1, NOW, retry_in=timedelta(seconds=5), error="429: busy")
    assert (first.state, first.refund, first.next_attempt_at) == (
        LeadState.PENDING,
        True,
        NOW + timedelta(seconds=5),
    )
    later = after_not_placed(2, NOW, retry_in=timedelta(0), error=None)
    assert (later.state, later.refund) == (LeadState.RETRY_WAIT, True)
