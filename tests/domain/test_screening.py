"""Screening claimed candidates: dial, skip (with the reason) or defer. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.hours import ZoneFilter
from dialer.domain.screening import (
    Candidate,
    Defer,
    RecentCalls,
    Skip,
    Verdict,
    daily_limit_until,
    screen,
)
from dialer.domain.states import SkipReason

NOW = datetime(2027, 3, 2, 14, 30, tzinfo=UTC)
NY = "America/New_York"
ZONES = ZoneFilter(frozenset({NY}), {"": SkipReason.NO_TIME_ZONE})
NUMBER = "+12125550100"
EARLIER = NOW - timedelta(hours=20)


@pytest.mark.parametrize(
    ("candidate", "recent", "per_day", "verdict"),
    [
        (Candidate(1, NUMBER, NY, False), {}, None, None),
        (Candidate(1, NUMBER, NY, True), {}, None, Skip(SkipReason.DO_NOT_CALL)),
        (Candidate(1, NUMBER, "", False), {}, None, Skip(SkipReason.NO_TIME_ZONE)),
        # the DNC list wins over every other reason
        (Candidate(1, NUMBER, "", True), {}, None, Skip(SkipReason.DO_NOT_CALL)),
        (Candidate(1, NUMBER, NY, False), {NUMBER: RecentCalls(1, EARLIER)}, 2, None),
        (
            Candidate(1, NUMBER, NY, False),
            {NUMBER: RecentCalls(2, EARLIER)},
            2,
            Defer(EARLIER + timedelta(days=1), "max_attempts_per_number_per_day"),
        ),
        # no daily limit set: recent calls do not matter
        (Candidate(1, NUMBER, NY, False), {NUMBER: RecentCalls(9, EARLIER)}, None, None),
    ],
)
def test_screen(
    candidate: Candidate, recent: dict[str, RecentCalls], per_day: int | None, verdict: Verdict
) -> None:
    assert (
        screen(candidate, zones=ZONES, recent_calls=recent, per_number_per_day=per_day) == verdict
    )


def test_without_calling_hours_no_zone_is_skipped() -> None:
    candidate = Candidate(1, NUMBER, "", False)
    assert screen(candidate, zones=None, recent_calls={}, per_number_per_day=None) is None


def test_the_daily_limit_is_a_rolling_day() -> None:
    assert daily_limit_until(3, RecentCalls(2, EARLIER)) is None
    assert daily_limit_until(3, RecentCalls(3, EARLIER)) == EARLIER + timedelta(days=1)
    assert daily_limit_until(3, None) is None
