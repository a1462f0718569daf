"""Screening claimed candidates: dial, skip (with the reason) or defer. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.screening import (
    Candidate,
    Defer,
    Skip,
    Verdict,
    campaign_caps,
    cap_until,
    screen,
)
from dialer.domain.state_rules import CallCap
from dialer.domain.states import SkipReason

NOW = datetime(2027, 3, 2, 14, 30, tzinfo=UTC)
NY = Place("America/New_York", "NY")
FL = Place("America/New_York", "FL")
UNKNOWN = Place("", "")
PLACES = PlaceFilter(frozenset({NY, FL}), {UNKNOWN: SkipReason.NO_TIME_ZONE})
NUMBER = "+12125550100"
EARLIER = NOW - timedelta(hours=20)
FLORIDA_CAP = {"FL": (CallCap(3, timedelta(days=1)),)}


def _screen(candidate: Candidate, recent: dict[str, list[datetime]], **rules: object) -> Verdict:
    per_day = rules.pop("per_day", None)
    gap = rules.pop("gap", None)
    return screen(
        candidate,
        places=PLACES,
        recent_calls=recent,
        caps=campaign_caps(per_day, gap),  # type: ignore[arg-type]
        now=NOW,
        **rules,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("candidate", "recent", "per_day", "verdict"),
    [
        (Candidate(1, NUMBER, NY, False), {}, None, None),
        (Candidate(1, NUMBER, NY, True), {}, None, Skip(SkipReason.DO_NOT_CALL)),
        (Candidate(1, NUMBER, UNKNOWN, False), {}, None, Skip(SkipReason.NO_TIME_ZONE)),
        # the DNC list wins over every other reason
        (Candidate(1, NUMBER, UNKNOWN, True), {}, None, Skip(SkipReason.DO_NOT_CALL)),
        (Candidate(1, NUMBER, NY, False), {NUMBER: [EARLIER]}, 2, None),
        (
            Candidate(1, NUMBER, NY, False),
            {NUMBER: [EARLIER, EARLIER + timedelta(hours=1)]},
            2,
            Defer(EARLIER + timedelta(days=1), "max_attempts_per_number_per_day"),
        ),
        # no daily limit set: recent calls do not matter
        (Candidate(1, NUMBER, NY, False), {NUMBER: [EARLIER] * 9}, None, None),
    ],
)
def test_screen(
    candidate: Candidate, recent: dict[str, list[datetime]], per_day: int | None, verdict: Verdict
) -> None:
    assert _screen(candidate, recent, per_day=per_day) == verdict


def test_without_calling_rules_no_zone_is_skipped() -> None:
    candidate = Candidate(1, NUMBER, UNKNOWN, False)
    assert screen(candidate, places=None, recent_calls={}, now=NOW) is None


@pytest.mark.parametrize(
    ("cap", "calls", "until"),
    [
        # three in a rolling day: the fourth waits until the first is a day old
        (CallCap(3, timedelta(days=1)), [EARLIER, NOW - timedelta(hours=2)], None),
        (
            CallCap(3, timedelta(days=1)),
            [NOW - timedelta(hours=2), EARLIER, NOW - timedelta(hours=1)],
            EARLIER + timedelta(days=1),
        ),
        # calls older than the period do not count
        (CallCap(3, timedelta(days=1)), [NOW - timedelta(days=2)] * 5, None),
        # four inside the day against a cap of 3: the second oldest decides
        (
            CallCap(3, timedelta(days=1)),
            [EARLIER, EARLIER + timedelta(hours=1), NOW - timedelta(hours=2), NOW],
            EARLIER + timedelta(hours=1, days=1),
        ),
        # one per 8 h (Maine): the newest call decides
        (
            CallCap(1, timedelta(hours=8)),
            [NOW - timedelta(hours=3), NOW - timedelta(hours=7)],
            NOW + timedelta(hours=5),
        ),
        (CallCap(1, timedelta(hours=8)), [NOW - timedelta(hours=9)], None),
    ],
)
def test_a_cap_is_a_rolling_period(cap: CallCap, calls: list[datetime], until: object) -> None:
    assert cap_until(cap, calls, NOW) == until


@pytest.mark.parametrize(
    ("candidate", "recent", "verdict"),
    [
        # require_consent: no consent on record is a skip, with the reason
        (Candidate(1, NUMBER, NY, False, has_consent=False), {}, Skip(SkipReason.NO_CONSENT)),
        (Candidate(1, NUMBER, NY, False, has_consent=True), {}, None),
        # min_recall_gap 4h: the last call to the number (any campaign) was 3h ago
        (
            Candidate(1, NUMBER, NY, False, has_consent=True),
            {NUMBER: [NOW - timedelta(hours=3)]},
            Defer(NOW + timedelta(hours=1), "min_recall_gap"),
        ),
        # … or 5h ago: dial
        (
            Candidate(1, NUMBER, NY, False, has_consent=True),
            {NUMBER: [NOW - timedelta(hours=5)]},
            None,
        ),
        # the DNC list still comes first
        (Candidate(1, NUMBER, NY, True, has_consent=False), {}, Skip(SkipReason.DO_NOT_CALL)),
    ],
)
def test_consent_and_the_recall_gap(
    candidate: Candidate, recent: dict[str, list[datetime]], verdict: Verdict
) -> None:
    assert _screen(candidate, recent, require_consent=True, gap=timedelta(hours=4)) == verdict


def test_a_state_cap_applies_to_leads_in_that_state_only() -> None:
    three = {NUMBER: [EARLIER, NOW - timedelta(hours=3), NOW - timedelta(hours=1)]}
    florida = Candidate(1, NUMBER, FL, False)
    new_york = Candidate(1, NUMBER, NY, False)
    assert _screen(florida, three, state_caps=FLORIDA_CAP) == Defer(
        EARLIER + timedelta(days=1), "state_cap:FL"
    )
    assert _screen(new_york, three, state_caps=FLORIDA_CAP) is None


def test_the_strictest_of_several_caps_wins() -> None:
    both = Place("America/New_York", "FL|GA")
    recent = {NUMBER: [EARLIER, NOW - timedelta(hours=3), NOW - timedelta(hours=1)]}
    # the recall gap (1h left) and Florida's cap (4h left) both bind: the later wins
    verdict = _screen(
        Candidate(1, NUMBER, both, False),
        recent,
        gap=timedelta(hours=2),
        state_caps=FLORIDA_CAP,
    )
    assert verdict == Defer(EARLIER + timedelta(days=1), "state_cap:FL")
