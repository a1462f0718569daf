"""Calling-hours arithmetic at fixed instants: DST both ways, cross-midnight windows, day
filters, numbers with several zones. Pure functions; no clock, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.domain.campaign import CallingHours
from dialer.domain.hours import (
    Window,
    effective_zones,
    is_open,
    local_instant,
    next_day_opening,
    next_opening,
)
from dialer.domain.timezones import lead_zone_key
from dialer.phones import number_time_zones

NY, LA, HNL, CHI = "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "America/Chicago"
EVERY_DAY = frozenset(range(7))
NINE_TO_EIGHT = Window(time(9), time(20), EVERY_DAY)
TUESDAY_1430 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_tuesday_1430_utc_new_york_open_west_waits() -> None:
    assert TUESDAY_1430.weekday() == 1
    assert is_open(NINE_TO_EIGHT, (NY,), TUESDAY_1430)  # 09:30 in New York
    assert not is_open(NINE_TO_EIGHT, (LA,), TUESDAY_1430)  # 06:30
    assert not is_open(NINE_TO_EIGHT, (HNL,), TUESDAY_1430)  # 04:30
    assert next_opening(NINE_TO_EIGHT, (LA,), TUESDAY_1430) == utc(2026, 11, 24, 17)
    assert next_opening(NINE_TO_EIGHT, (HNL,), TUESDAY_1430) == utc(2026, 11, 24, 19)


def test_spring_forward_moves_the_opening_an_hour_earlier_in_utc() -> None:
    # 2027-03-14: New York goes from EST (-5) to EDT (-4) at 02:00 local.
    assert next_opening(NINE_TO_EIGHT, (NY,), utc(2027, 3, 13, 1)) == utc(2027, 3, 13, 14)
    assert next_opening(NINE_TO_EIGHT, (NY,), utc(2027, 3, 14, 1)) == utc(2027, 3, 14, 13)
    assert not is_open(NINE_TO_EIGHT, (NY,), utc(2027, 3, 14, 12, 59))


def test_fall_back_moves_the_opening_an_hour_later_in_utc() -> None:
    # 2026-11-01: EDT (-4) to EST (-5) at 02:00 local.
    assert next_opening(NINE_TO_EIGHT, (NY,), utc(2026, 10, 31, 1)) == utc(2026, 10, 31, 13)
    assert next_opening(NINE_TO_EIGHT, (NY,), utc(2026, 11, 1, 1)) == utc(2026, 11, 1, 14)
    # closes at 20:00 EST = 01:00 UTC the next day
    assert is_open(NINE_TO_EIGHT, (NY,), utc(2026, 11, 2, 0, 59))
    assert not is_open(NINE_TO_EIGHT, (NY,), utc(2026, 11, 2, 1, 0))


def test_a_start_inside_the_spring_gap_opens_when_the_gap_ends() -> None:
    window = Window(time(2, 30), time(5), EVERY_DAY)
    # 02:30 does not exist on 2027-03-14 in New York: the clock jumps 02:00 EST -> 03:00 EDT
    assert local_instant(datetime(2027, 3, 14).date(), time(2, 30), NY) == utc(2027, 3, 14, 7)
    assert next_opening(window, (NY,), utc(2027, 3, 14, 5)) == utc(2027, 3, 14, 7)


def test_a_start_inside_the_repeated_hour_opens_at_its_first_reading() -> None:
    window = Window(time(1, 30), time(5), EVERY_DAY)
    # 01:30 happens twice on 2026-11-01: first at 05:30 UTC (EDT), again at 06:30 UTC (EST)
    assert next_opening(window, (NY,), utc(2026, 11, 1, 3)) == utc(2026, 11, 1, 5, 30)


def test_cross_midnight_window_belongs_to_the_day_it_opened() -> None:
    fridays_late = Window(time(20), time(2), frozenset({4}))  # Friday 20:00 to Saturday 02:00
    friday_2130 = utc(2026, 11, 28, 2, 30)  # Fri 21:30 EST (2026-11-27)
    saturday_0130 = utc(2026, 11, 28, 6, 30)
    saturday_0230 = utc(2026, 11, 28, 7, 30)
    saturday_2100 = utc(2026, 11, 29, 2)
    assert is_open(fridays_late, (NY,), friday_2130)
    assert is_open(fridays_late, (NY,), saturday_0130)
    assert not is_open(fridays_late, (NY,), saturday_0230)
    assert not is_open(fridays_late, (NY,), saturday_2100)  # Saturday evening is not Friday's
    assert next_opening(fridays_late, (NY,), saturday_0230) == utc(2026, 12, 5, 1)  # next Fri 20:00


def test_day_filter_skips_to_the_next_allowed_day() -> None:
    weekdays = Window(time(9), time(20), frozenset(range(5)))
    saturday_morning = utc(2026, 11, 28, 15)  # Sat 10:00 in New York
    assert not is_open(weekdays, (NY,), saturday_morning)
    assert next_opening(weekdays, (NY,), saturday_morning) == utc(2026, 11, 30, 14)  # Mon 09:00


def test_a_number_in_two_zones_uses_the_intersection() -> None:
    both = (CHI, NY)
    assert not is_open(NINE_TO_EIGHT, both, TUESDAY_1430)  # 08:30 in Chicago
    assert next_opening(NINE_TO_EIGHT, both, TUESDAY_1430) == utc(2026, 11, 24, 15)
    assert is_open(NINE_TO_EIGHT, both, utc(2026, 11, 25, 0, 59))  # 19:59 in New York
    assert not is_open(NINE_TO_EIGHT, both, utc(2026, 11, 25, 1, 0))  # 20:00 in New York


def test_zones_whose_windows_never_overlap_never_open() -> None:
    one_hour = Window(time(9), time(10), EVERY_DAY)
    # UTC+14 and UTC-11: 25 hours apart, so their 09:00-10:00 never coincide
    apart = ("Pacific/Kiritimati", "Pacific/Pago_Pago")
    assert next_opening(one_hour, apart, TUESDAY_1430) is None
    assert next_opening(one_hour, (), TUESDAY_1430) is None


def test_callback_without_delay_goes_to_the_next_days_window() -> None:
    tuesday_1500_ny = utc(2026, 11, 24, 20)
    assert next_day_opening(NINE_TO_EIGHT, (NY,), tuesday_1500_ny) == utc(2026, 11, 25, 14)
    late_evening_ny = utc(2026, 11, 25, 4)  # Tue 23:00 in New York: "next day" is Wednesday
    assert next_day_opening(NINE_TO_EIGHT, (NY,), late_evening_ny) == utc(2026, 11, 25, 14)
    assert next_day_opening(None, (NY,), tuesday_1500_ny) == tuesday_1500_ny + timedelta(days=1)


def test_zone_keys_take_every_zone_the_lead_has_then_the_fallback() -> None:
    # A `timezone` column that disagrees with the number narrows the window: both are kept.
    assert lead_zone_key("Europe/Paris", number_time_zones("+12125550123")) == f"{NY}|Europe/Paris"
    assert lead_zone_key(LA, number_time_zones("+12125550123")) == f"{LA}|{NY}"
    assert lead_zone_key(NY, number_time_zones("+12125550123")) == NY
    assert lead_zone_key(None, (), ["FL"]) == f"{CHI}|{NY}"  # the state's zones too
    assert lead_zone_key(LA, (), ["CA"]) == LA
    assert lead_zone_key(None, number_time_zones("+12125550123")) == NY
    assert lead_zone_key(None, number_time_zones("+80012345678")) == ""
    auto = CallingHours(start=time(9), end=time(20), fallback_timezone=CHI)
    fixed = CallingHours(start=time(9), end=time(20), timezone=LA)
    assert effective_zones(auto, NY) == (NY,)
    assert effective_zones(auto, "") == (CHI,)
    assert effective_zones(fixed, NY) == (LA,)
    no_fallback = CallingHours(start=time(9), end=time(20))
    assert effective_zones(no_fallback, "") == ()


ZONES = [NY, LA, HNL, CHI, "Europe/London", "Australia/Sydney", "Asia/Kolkata", "America/Santiago"]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start_minute=st.integers(0, 24 * 60 - 1),
    length_minutes=st.integers(1, 24 * 60 - 1),
    days=st.frozensets(st.integers(0, 6), min_size=1),
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
)
def test_next_opening_is_open_and_nothing_earlier_is(
    zone: str, start_minute: int, length_minutes: int, days: frozenset[int], at: datetime
) -> None:
    start = time(start_minute // 60, start_minute % 60)
    end_minute = (start_minute + length_minutes) % (24 * 60)
    window = Window(start, time(end_minute // 60, end_minute % 60), days)
    opening = next_opening(window, (zone,), at)
    assert opening is not None  # one zone and at least one day: it always opens
    assert opening >= at
    assert is_open(window, (zone,), opening)
    if opening > at:
        assert not is_open(window, (zone,), opening - timedelta(seconds=1))
        # and it was closed all along: sample the way there
        step = (opening - at) / 50
        for i in range(50):
            assert not is_open(window, (zone,), at + step * i)


@pytest.mark.parametrize("zone", ZONES)
def test_each_zone_opens_within_a_day_every_day(zone: str) -> None:
    at = TUESDAY_1430
    opening = next_opening(NINE_TO_EIGHT, (zone,), at)
    assert opening is not None and opening - at < timedelta(days=1)


@pytest.mark.parametrize(
    ("column", "number", "at", "open_"),
    [
        # A New York number whose row says Los Angeles, at 21:30 in New York (18:30 in LA)
        (LA, "+12125550123", utc(2026, 11, 25, 2, 30), False),
        # … and at 12:00 in New York (09:00 in LA): open in both
        (LA, "+12125550123", utc(2026, 11, 24, 17), True),
        # A Los Angeles number whose row says New York, at 08:30 in LA (11:30 in New York)
        (NY, "+13105550123", utc(2026, 11, 24, 16, 30), False),
        # … and at 19:30 in New York (16:30 in LA): open in both
        (NY, "+13105550123", utc(2026, 11, 25, 0, 30), True),
    ],
)
def test_a_timezone_column_that_disagrees_with_the_number_narrows_the_window(
    column: str, number: str, at: datetime, open_: bool
) -> None:
    zones = effective_zones(
        CallingHours(start=time(9), end=time(20)), lead_zone_key(column, number_time_zones(number))
    )
    assert is_open(NINE_TO_EIGHT, zones, at) is open_
