"""Caller IDs, number health, voicemail options and alternate numbers: pure tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.domain.caller_id import (
    PoolNumber,
    choose_from_number,
    count_call,
    leaves_message,
    retire_reason,
    voicemail_option,
)
from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings, NumberHealth, VoicemailPolicy
from dialer.domain.claim import CallerIds, ClaimRules, DueLead, select
from dialer.domain.pacing import ClaimPlan
from dialer.domain.policy import VOICEMAIL_LEFT, after_call
from dialer.domain.states import LeadState

MIAMI = PoolNumber("+13055550101", "305", "FL")
ATLANTA = PoolNumber("+14045550101", "404", "GA")
TAMPA = PoolNumber("+18135550101", "813", "FL")
NEW_YORK = PoolNumber("+12125550101", "212", "NY", calls_last_day=5)
POOL = [MIAMI, ATLANTA, TAMPA, NEW_YORK]
NOW = datetime(2027, 3, 2, 15, tzinfo=UTC)


def _choose(pool: list[PoolNumber], **kwargs: object) -> str | None:
    options: dict[str, object] = {
        "sticky": None,
        "to_number": "+13052000001",
        "lead_states": "FL",
        "local_presence": True,
        "ceiling": None,
        **kwargs,
    }
    return choose_from_number(pool, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "chosen"),
    [
        ({}, MIAMI.number),  # the lead's area code
        ({"to_number": "+17862000001"}, MIAMI.number),  # same state (FL), the least used
        ({"to_number": "+14702000001", "lead_states": "GA"}, ATLANTA.number),
        # no local number: the least used (ties by number)
        ({"to_number": "+16172000001", "lead_states": "MA"}, MIAMI.number),
        ({"to_number": "+16172000001", "lead_states": "MA", "sticky": None}, MIAMI.number),
        ({"local_presence": False, "to_number": "+12122000001"}, MIAMI.number),
        ({"sticky": NEW_YORK.number}, NEW_YORK.number),  # sticky wins over local presence
        ({"sticky": NEW_YORK.number, "ceiling": 5}, None),  # … and waits at its ceiling
        ({"sticky": "+19995550100"}, MIAMI.number),  # a sticky number gone from the pool
    ],
)
def test_choose_from_number(kwargs: dict[str, object], chosen: str | None) -> None:
    assert _choose(POOL, **kwargs) == chosen


def test_a_retired_number_is_never_chosen_and_its_leads_move() -> None:
    retired = [PoolNumber(MIAMI.number, "305", "FL", retired=True), TAMPA, ATLANTA]
    assert _choose(retired, sticky=MIAMI.number) == TAMPA.number  # still in Florida
    assert _choose([PoolNumber(MIAMI.number, "305", "FL", retired=True)]) is None


def test_a_lead_whose_suitable_numbers_are_full_waits() -> None:
    full = [PoolNumber(MIAMI.number, "305", "FL", calls_last_day=3), ATLANTA]
    # local presence: Miami is the only suitable number, and it is full today
    assert _choose(full, ceiling=3) is None
    assert _choose(full, ceiling=4) == MIAMI.number
    # a claim batch counts as it assigns
    assert count_call(full, MIAMI.number)[0].calls_last_day == 4


@pytest.mark.parametrize(
    ("latest", "reason"),
    [
        (["marked_as_spam"], "marked_as_spam"),
        (["user_hangup", "marked_as_spam"], None),  # only the newest call's mark counts
        (["dial_failed"] * 4, None),  # fewer than the window
        (
            ["dial_failed"] * 3 + ["user_declined"] * 2,
            "5 of its last 5 calls failed (dial_failed 3, user_declined 2)",
        ),
        (["dial_failed"] * 2 + ["user_hangup"] * 3, None),  # 40 %, under 60 %
    ],
)
def test_retire_reason(latest: list[str | None], reason: str | None) -> None:
    assert retire_reason(NumberHealth(window=5), latest) == reason


@pytest.mark.parametrize(
    ("leave", "attempt", "action"),
    [
        ("never", 1, "hangup"),
        ("never", 3, "hangup"),
        ("last_attempt", 2, "hangup"),
        ("last_attempt", 3, "static_text"),
        ("every_attempt", 1, "static_text"),
    ],
)
def test_voicemail_option(leave: str, attempt: int, action: str) -> None:
    message = None if leave == "never" else "call us back"
    policy = VoicemailPolicy(leave_message=leave, message=message)  # type: ignore[arg-type]
    option = voicemail_option(policy, attempt, 3)
    assert option is not None and option["action"]["type"] == action
    assert leaves_message(option) == (action != "hangup")
    assert voicemail_option(None, 1, 3) is None
    prompt = VoicemailPolicy(leave_message="every_attempt", prompt="be brief")
    assert voicemail_option(prompt, 1, 3) == {"action": {"type": "prompt", "text": "be brief"}}


def test_a_voicemail_policy_needs_its_words() -> None:
    with pytest.raises(ValueError, match="set message"):
        VoicemailPolicy(leave_message="last_attempt")
    with pytest.raises(ValueError, match="not both"):
        VoicemailPolicy(leave_message="every_attempt", message="a", prompt="b")


def _settings(**extra: object) -> CampaignSettings:
    return CampaignSettings.model_validate({"name": "c", "from_number": "+14155550100", **extra})


def _after(settings: CampaignSettings, reason: str, status: str = "ended", **kw: object):  # type: ignore[no-untyped-def]
    return after_call(settings, 3, "", status, reason, now=NOW, wall_now=NOW, **kw)  # type: ignore[arg-type]


def test_spam_retires_a_pool_number_but_pauses_a_single_number_campaign() -> None:
    pooled = _settings(from_numbers=["+14155550101"])
    decision = _after(pooled, "marked_as_spam", "not_connected")
    assert decision.retire_reason == "marked_as_spam" and decision.refund
    assert decision.pause_reason is None and decision.state is LeadState.RETRY_WAIT
    single = _after(_settings(), "marked_as_spam", "not_connected")
    assert single.pause_reason == "marked_as_spam" and single.retire_reason is None


def test_a_message_left_completes_the_lead() -> None:
    left = _after(_settings(), "voicemail_reached", voicemail_left=True)
    assert left.state is LeadState.COMPLETED and left.why == VOICEMAIL_LEFT
    hung_up = _after(_settings(), "voicemail_reached")
    assert hung_up.state is LeadState.FAILED  # max_attempts spent (3 of 3)


@pytest.mark.parametrize(
    ("reason", "status", "moves_on"),
    [
        ("invalid_destination", "not_connected", True),
        ("dial_no_answer", "not_connected", True),  # attempts spent
        ("voicemail_reached", "ended", True),  # a machine is nobody
        ("user_hangup", "ended", False),  # reached: completed
    ],
)
def test_a_spent_number_moves_on_to_the_next(reason: str, status: str, moves_on: bool) -> None:
    decision = _after(_settings(), reason, status, has_next_number=True)
    assert decision.next_number is moves_on
    if moves_on:
        assert decision.state is LeadState.PENDING and decision.next_attempt_at == NOW
    assert not _after(_settings(), reason, status).next_number


# -- a pool spreads its calls -------------------------------------------------------------------


def test_ties_rotate_to_the_number_idle_longest() -> None:
    earlier, later = NOW.replace(hour=9), NOW.replace(hour=10)
    pool = [
        PoolNumber(MIAMI.number, "305", "FL", calls_last_day=2, last_call_at=later),
        PoolNumber(ATLANTA.number, "404", "GA", calls_last_day=2, last_call_at=earlier),
    ]
    assert _choose(pool, local_presence=False) == ATLANTA.number


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(2, 6),
    claims=st.lists(
        st.tuples(st.integers(1, 8), st.lists(st.booleans(), min_size=8, max_size=8)),
        min_size=1,
        max_size=40,
    ),
)
def test_over_any_claim_sequence_a_pool_stays_even(
    size: int, claims: list[tuple[int, list[bool]]]
) -> None:
    """Each claim reads every number's calls of the last day from the store (here: a dict) and
    counts the batch as it assigns: the calls per usable number differ by at most the batch
    size, whatever was claimed before, even when some creates prove no call was made (those
    are not counted)."""
    numbers = [f"+1415555{i:04d}" for i in range(size)]
    placed = dict.fromkeys(numbers, 0)
    clock = NOW
    largest_batch = 0
    for batch, made in claims:
        largest_batch = max(largest_batch, batch)
        pool = [PoolNumber(n, "415", "CA", placed[n], last_call_at=None) for n in numbers]
        due = [DueLead(i, f"+1212200{i:04d}", Place("", "")) for i in range(batch)]
        plan = ClaimPlan(batch, batch, clock, timedelta(milliseconds=100))
        rules = ClaimRules("spring", caller_ids=CallerIds())
        chosen = select(due, rules, plan, recent_calls={}, pool=pool, now=clock)
        assert len(chosen.dial) == batch
        for dial, call_made in zip(chosen.dial, made, strict=False):
            assert dial.from_number is not None
            if call_made:
                placed[dial.from_number] += 1
        clock += timedelta(seconds=1)
        assert max(placed.values()) - min(placed.values()) <= largest_batch
