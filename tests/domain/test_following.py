"""Following once per fleet: who may hold the following lease, what a tick does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.following import TickPlan, foreign_calls, lease_period, may_hold, plan_tick

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("holder", "expires_at", "expected"),
    [
        (None, None, True),  # nobody ever held it
        ("me", NOW + SECOND, True),  # a renewal
        ("me", NOW - SECOND, True),  # my own, run out: mine again
        ("other", NOW + SECOND, False),  # another's, still running
        ("other", NOW, True),  # another's, ending now: taken over
        ("other", NOW - SECOND, True),  # another's, run out (it died or gave it back)
        ("other", None, True),
    ],
)
def test_who_may_hold_the_lease(
    holder: str | None, expires_at: datetime | None, expected: bool
) -> None:
    assert may_hold(holder, expires_at, "me", NOW) is expected


@pytest.mark.parametrize(
    ("tick", "period"),
    [(0.25, 3.0), (0.05, 2.0), (0.0125, 2.0), (1.0, 12.0)],
)
def test_lease_period(tick: float, period: float) -> None:
    assert lease_period(tick) == pytest.approx(period)


@pytest.mark.parametrize(
    ("shared", "holding", "plan"),
    [
        (False, False, TickPlan(list_calls=True, fallback_reads=True, seen_in_store=False)),
        (False, True, TickPlan(list_calls=True, fallback_reads=True, seen_in_store=False)),
        (True, True, TickPlan(list_calls=True, fallback_reads=True, seen_in_store=True)),
        (True, False, TickPlan(list_calls=False, fallback_reads=False, seen_in_store=True)),
    ],
)
def test_what_a_tick_does(shared: bool, holding: bool, plan: TickPlan) -> None:
    assert plan_tick(shared=shared, holding=holding) == plan


@pytest.mark.parametrize(
    ("placed", "own", "expected"),
    [
        ({}, set(), {}),
        ({"a": "c1", "b": "c2"}, {"a"}, {"b": "c2"}),
        ({"a": "c1"}, {"a", "z"}, {}),
        ({"a": "c1", "b": "c2"}, set(), {"a": "c1", "b": "c2"}),
    ],
)
def test_foreign_calls(placed: dict[str, str], own: set[str], expected: dict[str, str]) -> None:
    assert foreign_calls(placed, own) == expected
