"""Property tests of routing by steps: whatever the rules and however the calls end, a lead
never gets more than max_attempts calls (per number), a call at a named window is never
scheduled outside it or outside calling hours, and every path ends. And the retry block,
compiled to steps, decides exactly as the retry policy did before steps existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.domain.calling_rules import CallingRules, Place, closed_reason
from dialer.domain.calls import CallStatus
from dialer.domain.campaign import CampaignSettings, RetryRules
from dialer.domain.hours import Window, is_open
from dialer.domain.policy import Decision, after_call, decide
from dialer.domain.reasons import (
    ACCOUNT_BROKEN,
    DISCONNECTION_REASONS,
    ENDS_UNCONNECTED,
    KNOWN_REASONS,
    OVER_ACCOUNT_CONCURRENCY,
    REACHED,
)
from dialer.domain.routing import LastCall, campaign_steps, route
from dialer.domain.states import LeadState
from dialer.domain.step_windows import named_window

NOW = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)
ZONE = "America/Chicago"
WINDOWS = {
    "evening": "17:00-19:30",
    "saturday_morning": {"start": "09:00", "end": "12:00", "days": ["sat"]},
    "lunch": "12:00-13:00",
}
WHENS: list[dict[str, Any]] = [
    {},
    {"outcome": "voicemail"},
    {"outcome": ["no_answer", "busy"]},
    {"outcome": "no_answer", "attempt": 2},
    {"analysis.interested": "yes"},
    {"call_successful": False},
    {"reason": "error"},
    {"number": "alternate"},
    {"reason": "user_hangup", "attempt": [1, 2]},
]
THENS: list[Any] = [
    "complete",
    {"skip": "no"},
    {"callback": "2d"},
    {"callback": "next_day"},
    {"call": {"after": "30m"}},
    {"call": {"at": "evening", "agent_id": "agent_short"}},
    {"call": {"at": "saturday_morning", "number": "next_alternate"}},
    {"call": {"after": ["1h", "1d"], "at": "lunch"}},
    {"call": {"number": "next_alternate"}},
]
ROUTED_REASONS = sorted(DISCONNECTION_REASONS - ACCOUNT_BROKEN - OVER_ACCOUNT_CONCURRENCY)


def _status(reason: str) -> str:
    if reason.startswith("error"):
        return CallStatus.ERROR
    return CallStatus.NOT_CONNECTED if reason in ENDS_UNCONNECTED else CallStatus.ENDED


@st.composite
def campaigns(draw: st.DrawFn) -> CampaignSettings:
    steps = draw(
        st.lists(
            st.builds(
                lambda w, t: {"when": w, "then": t}, st.sampled_from(WHENS), st.sampled_from(THENS)
            ),
            min_size=1,
            max_size=5,
        )
    )
    return CampaignSettings.model_validate(
        {
            "name": "p",
            "from_number": "+14155550100",
            "calling_hours": {"start": "09:00", "end": "20:00", "timezone": ZONE},
            "skip_dates": draw(st.sampled_from([[], ["2027-03-03"], ["2027-03-04", "2027-03-06"]])),
            "windows": WINDOWS,
            "steps": steps,
            "retry": {"max_attempts": draw(st.integers(1, 4)), "backoff": ["10m", "2h"]},
        }
    )


ends = st.tuples(
    st.sampled_from(ROUTED_REASONS),
    st.sampled_from(
        [
            None,
            {"custom_analysis_data": {"interested": "yes"}, "call_successful": True},
            {"custom_analysis_data": {"interested": "no"}, "call_successful": False},
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(campaigns(), st.lists(ends, min_size=60, max_size=60), st.integers(0, 2))
def test_every_path_ends_within_max_attempts_and_windows(
    campaign: CampaignSettings, outcomes: list[tuple[str, Any]], alternates: int
) -> None:
    max_attempts = campaign.retry.max_attempts
    hours = Window.of(campaign.calling_hours) if campaign.calling_hours else None
    calling = CallingRules.of(campaign, {})  # hours and skip dates (no state rows here)
    rules = campaign_steps(campaign)
    now, spent, number_index, calls = NOW, 0, 0, 0
    for reason, analysis in outcomes:
        spent, calls = spent + 1, calls + 1
        assert spent <= max_attempts  # never beyond max_attempts on one number
        status = _status(reason)
        last = LastCall(status, reason, spent, alternate=number_index > 0, analysis=analysis)
        decision: Decision = after_call(
            campaign,
            spent,
            ZONE,
            status,
            reason,
            now=now,
            wall_now=now,
            has_next_number=number_index < alternates,
            last=last,
            rules=calling,
        )
        if not decision.due_again:
            assert decision.state in (LeadState.COMPLETED, LeadState.FAILED, LeadState.SKIPPED)
            return  # the path ended
        found = route(rules, last, spent, max_attempts)
        assert decision.next_attempt_at is not None and decision.next_attempt_at >= now
        if found.action == "call" and found.window and decision.state is LeadState.RETRY_WAIT:
            named = named_window(campaign.windows[found.window])
            at = decision.next_attempt_at
            assert is_open(named, [ZONE], at), (found.window, at)
            assert hours is None or is_open(hours, [ZONE], at), at
            assert closed_reason(calling, Place(ZONE, ""), at) is None, at  # nor a skip date
        if decision.next_number:
            number_index += 1
            spent = spent if decision.keep_attempts else 0
        now = decision.next_attempt_at
    raise AssertionError(f"no end after {calls} calls")  # 60 calls: no path of ours is that long


# -- the retry block as steps decides as the retry policy did --------------------------------


def _legacy_decide(
    rules: RetryRules, spent: int, status: str, reason: str | None
) -> tuple[Any, ...]:
    """The retry policy before steps (dialer 0.x's policy.decide), as an oracle."""
    left = spent < rules.max_attempts
    errorish = (
        status == CallStatus.ERROR
        or (reason or "").startswith("error")
        or (reason is not None and reason not in KNOWN_REASONS)
    )
    if reason in ACCOUNT_BROKEN:
        return (LeadState.RETRY_WAIT, timedelta(0), True)
    if reason in OVER_ACCOUNT_CONCURRENCY and reason not in rules.retry_on:
        return (LeadState.RETRY_WAIT, timedelta(seconds=30), True)
    if reason == "user_requested_dnc":
        return (LeadState.COMPLETED, None, False)
    if reason == "user_requested_callback":
        if left:
            return (LeadState.RETRY_WAIT, rules.callback_delay or timedelta(days=1), False)
        return (LeadState.COMPLETED, None, False)
    if (reason and reason in rules.retry_on) or ("error" in rules.retry_on and errorish):
        if left:
            index = max(0, min(spent - 1, len(rules.backoff) - 1))
            return (LeadState.RETRY_WAIT, rules.backoff[index], False)
        return (LeadState.FAILED, None, False)
    if reason in REACHED and status == CallStatus.ENDED:
        return (LeadState.COMPLETED, None, False)
    return (LeadState.FAILED, None, False)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(DISCONNECTION_REASONS | {"error"})), max_size=6, unique=True),
    st.sampled_from([*sorted(DISCONNECTION_REASONS), None, "brand_new_reason"]),
    st.sampled_from(list(CallStatus)),
    st.integers(1, 5),
    st.integers(1, 5),
    st.sampled_from([None, timedelta(hours=3)]),
)
def test_the_compiled_retry_block_decides_as_before(
    retry_on: list[str],
    reason: str | None,
    status: str,
    spent: int,
    max_attempts: int,
    callback_delay: timedelta | None,
) -> None:
    rules = RetryRules(
        max_attempts=max_attempts,
        backoff=[timedelta(minutes=30), timedelta(hours=2)],
        retry_on=retry_on,
        callback_delay=callback_delay,
    )
    decision = decide(rules, spent, status, reason, NOW)
    state, wait, refund = _legacy_decide(rules, spent, status, reason)
    assert decision.state is state
    assert decision.refund is refund
    if wait is not None:
        assert decision.next_attempt_at == NOW + wait
