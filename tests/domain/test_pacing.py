"""The pacing plan: how many leads a claim takes and how their dial slots are spaced. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.campaign import Pacing
from dialer.domain.pacing import (
    Budget,
    BudgetCheck,
    Spend,
    check_budget,
    next_free_slot,
    plan_claim,
    slot_interval,
)
from dialer.domain.states import CampaignStatus

NOW = datetime(2027, 3, 2, 14, 30, tzinfo=UTC)
ACTIVE = CampaignStatus.ACTIVE


def ms(n: float) -> timedelta:
    return timedelta(milliseconds=n)


@pytest.mark.parametrize(
    ("cps", "cap", "live", "next_dial_at", "limit", "count", "free", "retry_in"),
    [
        # 2/s, nothing live, slot free now: the 250 ms horizon holds slots at 0 ms (and 500 is out)
        (2, 10, 0, None, 50, 1, 10, None),
        # 20/s: slots at 0, 50, …, 250 ms fall inside the horizon
        (20, 10, 0, None, 50, 6, 10, None),
        # the batch size bounds it
        (20, 10, 0, None, 3, 3, 10, None),
        # the concurrency cap bounds it
        (1000, 10, 7, None, 50, 3, 3, None),
        # every slot taken: nothing, no retry hint (a freed slot wakes the claimer)
        (20, 10, 10, None, 50, 0, 0, None),
        # the next slot is 1 s away: nothing now, come back when it is within the horizon
        (1, 10, 0, NOW + timedelta(seconds=1), 50, 0, 10, 0.75),
        # a slot in the past counts from now
        (20, 10, 0, NOW - timedelta(seconds=5), 50, 6, 10, None),
    ],
)
def test_plan_claim(
    cps: float,
    cap: int,
    live: int,
    next_dial_at: datetime | None,
    limit: int,
    count: int,
    free: int,
    retry_in: float | None,
) -> None:
    plan = plan_claim(
        Pacing(calls_per_second=cps, max_concurrent_calls=cap),
        status=ACTIVE,
        hold_until=None,
        live=live,
        next_dial_at=next_dial_at,
        now=NOW,
        limit=limit,
    )
    assert (plan.count, plan.free_slots, plan.retry_in) == (count, free, retry_in)


def test_slots_are_spaced_by_the_rate_and_start_at_the_pacing_row() -> None:
    start = NOW + ms(100)
    plan = plan_claim(
        Pacing(calls_per_second=10, max_concurrent_calls=10),
        status=ACTIVE,
        hold_until=None,
        live=0,
        next_dial_at=start,
        now=NOW,
        limit=50,
    )
    assert plan.count == 2  # 100 ms and 200 ms; 300 ms is past the horizon
    assert [plan.slot(i) for i in range(3)] == [start, start + ms(100), start + ms(200)]


def test_the_account_cap_and_the_speed_factor() -> None:
    pacing = Pacing(calls_per_second=1, max_concurrent_calls=10)
    kwargs = {"status": ACTIVE, "hold_until": None, "live": 0, "next_dial_at": None, "now": NOW}
    assert plan_claim(pacing, limit=50, account_cap=2, **kwargs).free_slots == 2  # type: ignore[arg-type]
    fast = plan_claim(pacing, limit=50, speed=20, **kwargs)  # type: ignore[arg-type]
    assert (fast.interval, fast.count) == (ms(50), 6)


def test_paused_and_held_campaigns_claim_nothing() -> None:
    pacing = Pacing()
    paused = plan_claim(
        pacing,
        status=CampaignStatus.PAUSED,
        hold_until=None,
        live=0,
        next_dial_at=None,
        now=NOW,
        limit=50,
    )
    assert (paused.count, paused.retry_in) == (0, None)
    held = plan_claim(
        pacing,
        status=ACTIVE,
        hold_until=NOW + timedelta(seconds=3),
        live=0,
        next_dial_at=None,
        now=NOW,
        limit=50,
    )
    assert (held.count, held.retry_in) == (0, 3.0)


def test_an_absurd_rate_is_no_ceiling_not_a_zero_interval() -> None:
    assert slot_interval(1e9) == timedelta(microseconds=1)


def test_a_slot_outside_a_claim_moves_the_pacing_row() -> None:
    pacing = Pacing(calls_per_second=4)
    assert next_free_slot(pacing, None, NOW) == (NOW, NOW + ms(250))
    later = NOW + timedelta(seconds=2)
    assert next_free_slot(pacing, later, NOW) == (later, later + ms(250))


# -- the budget, with costs that come late ------------------------------------------------------

PRIOR = Budget(usd=4.0, prior_cents_per_minute=15.0)  # $0.15 a minute until costs are known


@pytest.mark.parametrize(
    ("spend", "expected"),
    [
        # nothing known yet: the prior prices a 2-minute call at 30 cents; 400 / 30 = 13
        (Spend(), BudgetCheck(13)),
        # four live calls, not ended yet: each counts at least the expected 2 minutes
        (Spend(live_ms=(1000,) * 4), BudgetCheck(9)),
        # a live call that has lasted 10 minutes counts its 10 minutes
        (Spend(live_ms=(600_000,)), BudgetCheck(8)),
        # ended, not costed yet: their call time at the prior (10 calls of 2 min = 300 cents)
        (Spend(uncosted_calls=10, uncosted_ms=1_200_000), BudgetCheck(3)),
        # … and when those use up the rest, wait for their costs rather than pause
        (Spend(uncosted_calls=13, uncosted_ms=1_560_000), BudgetCheck(0, wait=True)),
        # costs known: the campaign's own price (7 cents a minute) replaces the prior
        (Spend(cents=350.0, calls=50, billed_ms=3_000_000), BudgetCheck(7)),
        # known spend leaves no room for one more call: pause, live calls or not
        (
            Spend(cents=395.0, calls=50, billed_ms=3_000_000, live_ms=(1000,)),
            BudgetCheck(0, pause=True),
        ),
        # an ended call whose cost never came counts as spent
        (
            Spend(cents=300.0, calls=40, billed_ms=2_400_000, stale_calls=20, stale_ms=2_400_000),
            BudgetCheck(0, pause=True),
        ),
    ],
)
def test_the_budget_counts_every_call_not_costed_yet(spend: Spend, expected: BudgetCheck) -> None:
    assert check_budget(PRIOR, spend) == expected


def test_a_budget_pauses_before_and_waits_for_late_costs() -> None:
    pacing = Pacing(calls_per_second=10, max_concurrent_calls=4)
    kwargs = {"status": ACTIVE, "hold_until": None, "live": 0, "next_dial_at": None, "now": NOW}
    waiting = plan_claim(
        pacing,
        limit=50,
        budget=PRIOR,
        spend=Spend(uncosted_calls=13, uncosted_ms=1_560_000),
        **kwargs,  # type: ignore[arg-type]
    )
    assert (waiting.count, waiting.pause_reason, waiting.retry_in) == (0, None, 5.0)
    spent = Spend(cents=395.0, calls=50, billed_ms=3_000_000, live_ms=(60_000,))
    paused = plan_claim(pacing, limit=50, budget=PRIOR, spend=spent, **kwargs)  # type: ignore[arg-type]
    assert paused.pause_reason is not None
    assert paused.pause_reason.startswith("budget reached: $3.95 spent (known) + $0.")
    assert paused.pause_reason.endswith("pending estimate, of $4.00")
