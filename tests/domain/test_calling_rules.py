"""When a lead may be called under calling hours, state rules, holidays and skip dates: tables
at fixed instants (DST days, multi-zone area codes, a lead whose address state and area-code
state differ, holiday observance). Pure functions; no clock, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.domain.calling_rules import (
    CallingRules,
    Place,
    closed_reason,
    next_closing,
    next_opening,
    schedule,
)
from dialer.domain.campaign import CallingHours
from dialer.domain.state_rules import StateRuleRow, build_rule, lead_states_key, rule_book
from dialer.domain.states import SkipReason
from dialer.inputs.rule_book import shipped_rules
from dialer.phones import number_state, number_time_zones

NY, CHI, LA = "America/New_York", "America/Chicago", "America/Los_Angeles"
BOOK = shipped_rules()
RULES = CallingRules(states=BOOK)


def at(year: int, month: int, day: int, hour: int, minute: int = 0, zone: str = NY) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


FLORIDA = Place(NY, "FL")
GEORGIA = Place(NY, "GA")
ALABAMA = Place(CHI, "AL")
# A weekday evening, 20:30 in New York: Florida's window (08-20) is closed, Georgia's (the
# federal floor, which calling_hours sets) is not restricted by a state rule.
TUESDAY_2030 = at(2027, 3, 2, 20, 30)


@pytest.mark.parametrize(
    ("place", "instant", "reason"),
    [
        (FLORIDA, TUESDAY_2030, "state_hours:FL"),
        (GEORGIA, TUESDAY_2030, None),
        (FLORIDA, at(2027, 3, 2, 19, 59), None),
        (FLORIDA, at(2027, 3, 2, 7, 59), "state_hours:FL"),
        # Alabama: no calls on Sunday, 08-20 otherwise
        (ALABAMA, at(2027, 3, 7, 12, 0, CHI), "state_hours:AL"),
        (ALABAMA, at(2027, 3, 8, 12, 0, CHI), None),
        # Alabama on July 5th 2027, a Monday: Independence Day (a Sunday) observed
        (ALABAMA, at(2027, 7, 5, 12, 0, CHI), "state_holiday:AL"),
        (ALABAMA, at(2027, 7, 6, 12, 0, CHI), None),
        # Pennsylvania bans its holidays: Thanksgiving
        (Place(NY, "PA"), at(2027, 11, 25, 12, 0), "state_holiday:PA"),
        (Place(NY, "PA"), at(2027, 11, 24, 12, 0), None),
        # Rhode Island: 10-17 on Saturdays
        (Place(NY, "RI"), at(2027, 3, 6, 9, 30), "state_hours:RI"),
        (Place(NY, "RI"), at(2027, 3, 6, 10, 30), None),
        # Texas: Sundays from noon
        (Place(CHI, "TX"), at(2027, 3, 7, 11, 0, CHI), "state_hours:TX"),
        (Place(CHI, "TX"), at(2027, 3, 7, 12, 0, CHI), None),
        # … also on a Sunday that is a holiday (July 4th 2027): Texas has no holiday rule
        (Place(CHI, "TX"), at(2027, 7, 4, 11, 0, CHI), "state_hours:TX"),
        (Place(CHI, "TX"), at(2027, 7, 5, 10, 0, CHI), None),
        # Nebraska: holidays 13-21, narrowing a Monday holiday's 08-21 (Memorial Day 2027)
        (Place(CHI, "NE"), at(2027, 5, 31, 10, 0, CHI), "state_holiday:NE"),
        (Place(CHI, "NE"), at(2027, 5, 31, 13, 30, CHI), None),
        # Rhode Island bans holidays and Sundays: a Sunday holiday stays banned
        (Place(NY, "RI"), at(2027, 7, 4, 12, 0), "state_holiday:RI"),
        # address in Florida, number from New York: Florida's rule applies (the strictest wins)
        (Place(NY, "FL|NY"), TUESDAY_2030, "state_hours:FL"),
        # address in Alabama, number from Georgia, on a Sunday
        (Place(NY, "AL|GA"), at(2027, 3, 7, 12, 0), "state_hours:AL"),
        # a multi-zone area code in Florida (Central and Eastern): open only where both are
        (Place(f"{CHI}|{NY}", "FL"), at(2027, 3, 2, 8, 30), "state_hours:FL"),  # 07:30 Central
        (Place(f"{CHI}|{NY}", "FL"), at(2027, 3, 2, 9, 0), None),
        # a state rule with no zone known fails closed
        (Place("", "FL"), TUESDAY_2030, SkipReason.NO_TIME_ZONE),
        # no state known: no state rule
        (Place(NY, ""), TUESDAY_2030, None),
    ],
)
def test_closed_reason(place: Place, instant: datetime, reason: str | None) -> None:
    assert closed_reason(RULES, place, instant) == reason


@pytest.mark.parametrize(
    ("place", "instant", "opening"),
    [
        (FLORIDA, TUESDAY_2030, at(2027, 3, 3, 8, 0)),
        # Saturday evening in Alabama: Sunday is banned, Monday 08:00
        (ALABAMA, at(2027, 3, 6, 21, 0, CHI), at(2027, 3, 8, 8, 0, CHI)),
        # Saturday July 3rd 2027: Sunday banned, Monday the observed holiday: Tuesday 08:00
        (ALABAMA, at(2027, 7, 3, 21, 0, CHI), at(2027, 7, 6, 8, 0, CHI)),
        # the night DST starts (2027-03-14): 08:00 EDT is 12:00 UTC, not 13:00
        (FLORIDA, at(2027, 3, 14, 1, 0), datetime(2027, 3, 14, 12, 0, tzinfo=UTC)),
        # the night DST ends (2027-11-07): 08:00 EST is 13:00 UTC
        (FLORIDA, at(2027, 11, 7, 1, 30), datetime(2027, 11, 7, 13, 0, tzinfo=UTC)),
        # both zones of a multi-zone area code: 08:00 Central
        (Place(f"{CHI}|{NY}", "FL"), at(2027, 3, 2, 7, 0), at(2027, 3, 2, 8, 0, CHI)),
        (Place("", "FL"), TUESDAY_2030, None),
    ],
)
def test_next_opening(place: Place, instant: datetime, opening: datetime | None) -> None:
    assert next_opening(RULES, place, instant) == opening


def test_calling_hours_and_state_rules_intersect() -> None:
    hours = CallingHours(start=time(9), end=time(21), days=["mon", "tue", "wed", "thu", "fri"])
    rules = CallingRules(hours, BOOK)
    # the campaign allows 20:30, Florida does not
    assert closed_reason(rules, FLORIDA, TUESDAY_2030) == "state_hours:FL"
    # Florida allows 08:30, the campaign does not
    assert closed_reason(rules, FLORIDA, at(2027, 3, 3, 8, 30)) == "calling_hours"
    assert next_opening(rules, FLORIDA, TUESDAY_2030) == at(2027, 3, 3, 9, 0)
    # Friday evening: the campaign skips the weekend
    assert next_opening(rules, FLORIDA, at(2027, 3, 5, 20, 30)) == at(2027, 3, 8, 9, 0)


def test_skip_dates_and_federal_holidays_in_the_callees_local_date() -> None:
    rules = CallingRules(skip_dates=frozenset({date(2027, 12, 24)}), skip_federal_holidays=True)
    eve = at(2027, 12, 24, 10, 0)
    assert closed_reason(rules, GEORGIA, eve) == "skip_date"
    # still the 23rd in Los Angeles when it is already the 24th in New York? No: 03:00 UTC on
    # the 24th is 19:00 on the 23rd in Los Angeles
    assert closed_reason(rules, Place(LA, "CA"), datetime(2027, 12, 24, 3, tzinfo=UTC)) is None
    # Christmas Day 2027 is a Saturday, observed Friday the 24th; the 25th itself is kept too
    assert closed_reason(rules, GEORGIA, at(2027, 12, 25, 10, 0)) == "federal_holiday"
    assert next_opening(rules, GEORGIA, eve) == at(2027, 12, 26, 0, 0)


def test_a_campaign_overrides_a_row_or_adds_one() -> None:
    overridden = rule_book(
        BOOK,
        {
            "FL": StateRuleRow(end=time(19, 0)),
            "GA": StateRuleRow(weekdays="10:00-18:00", sunday="none"),
        },
    )
    rules = CallingRules(states=overridden)
    assert closed_reason(rules, FLORIDA, at(2027, 3, 2, 19, 30)) == "state_hours:FL"
    assert closed_reason(rules, GEORGIA, at(2027, 3, 2, 18, 30)) == "state_hours:GA"
    assert closed_reason(rules, GEORGIA, at(2027, 3, 7, 12, 0)) == "state_hours:GA"
    assert overridden["FL"].caps == BOOK["FL"].caps  # what the override leaves alone stays
    assert overridden["FL"].status == "campaign"
    # no rules at all: nothing is closed
    assert closed_reason(CallingRules(), FLORIDA, TUESDAY_2030) is None


def test_every_shipped_row_names_its_source_status_and_check_date() -> None:
    assert {"FL", "AL", "OK", "MD", "WA", "PA", "RI"} <= set(BOOK)
    for rule in BOOK.values():
        assert rule.source and rule.checked >= date(2026, 1, 1)
        assert rule.status in {"confirmed", "secondary", "unconfirmed"}
    assert [str(c) for c in BOOK["FL"].caps] == ["3 per 24h"]
    assert [str(c) for c in BOOK["ME"].caps] == ["1 per 8h"]
    assert BOOK["FL"].status == "confirmed" and BOOK["AL"].status == "unconfirmed"


def test_a_leads_states_come_from_its_address_and_its_area_code() -> None:
    assert number_state("+13055550123") == "FL"
    assert number_state("+12055550123") == "AL"
    assert number_state("+12065550123") == "WA"  # "Washington State" in the geocoder
    assert number_state("+18005550123") is None  # toll-free: no state
    assert number_state("+16045550123") is None  # Canada
    assert lead_states_key("GA", number_state("+13055550123")) == "FL|GA"
    assert lead_states_key(None, None) == ""
    # an area code of two zones (Florida's panhandle)
    assert len(number_time_zones("+18505550123")) >= 1


def test_schedule_sorts_places_with_reasons() -> None:
    places = [FLORIDA, GEORGIA, Place("", "FL")]
    plan = schedule(RULES, places, TUESDAY_2030)
    assert plan.open_places == {GEORGIA}
    assert plan.never == {Place("", "FL"): SkipReason.NO_TIME_ZONE}
    assert plan.waiting[FLORIDA].reason == "state_hours:FL"
    assert plan.next_opening == at(2027, 3, 3, 8, 0)
    counts = {FLORIDA: 7, GEORGIA: 3, Place("", "FL"): 1}
    assert plan.waiting_count(counts) == 7
    assert plan.waiting_by_reason(counts) == {"state_hours:FL": 7}


STATES = ["FL", "AL", "RI", "TX", "PA", "ME", "NE", "GA", "FL|AL"]
ZONES = [NY, CHI, LA, f"{CHI}|{NY}", "America/Denver"]


@settings(max_examples=200, deadline=None)
@given(
    states=st.sampled_from(STATES),
    zones=st.sampled_from(ZONES),
    instant=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
)
def test_next_opening_is_open_and_nothing_earlier_is(
    states: str, zones: str, instant: datetime
) -> None:
    place = Place(zones, states)
    opening = next_opening(RULES, place, instant)
    assert opening is not None and opening >= instant
    assert closed_reason(RULES, place, opening) is None
    if opening > instant:
        assert closed_reason(RULES, place, opening - timedelta(seconds=1)) is not None
        step = (opening - instant) / 40
        for i in range(40):
            assert closed_reason(RULES, place, instant + step * i) is not None


def test_build_rule_refuses_a_bad_window() -> None:
    with pytest.raises(ValueError, match="'8-20' is not a window"):
        build_rule("FL", StateRuleRow(weekdays="8-20"))


def test_a_window_closes_at_its_end_and_a_claim_looks_ahead_of_it() -> None:
    hours = CallingHours(start=time(9), end=time(20))
    rules = CallingRules(hours)
    place = Place(NY, "")
    closes = datetime(2027, 3, 3, 1, tzinfo=UTC)  # 20:00 in New York, a Tuesday
    assert next_closing(rules, place, closes - timedelta(minutes=5)) == closes
    assert next_closing(CallingRules(), place, closes) is None  # nothing restricts it
    horizon = timedelta(milliseconds=250)
    early = schedule(rules, [place], closes - timedelta(seconds=1), horizon)
    assert place in early.open_places and early.next_closing == closes - horizon
    late = schedule(rules, [place], closes - timedelta(milliseconds=100), horizon)
    assert place not in late.open_places  # a lead claimed now would be dialed past 20:00
    assert late.waiting[place].opens_at == datetime(2027, 3, 3, 14, tzinfo=UTC)  # 09:00
