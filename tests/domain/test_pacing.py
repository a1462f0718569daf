"""The pacing plan: how many leads a claim takes and how their dial slots are spaced. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.campaign import Pacing
from dialer.domain.pacing import next_free_slot, plan_claim, slot_interval
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
