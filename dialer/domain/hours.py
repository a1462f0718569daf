"""Calling hours: pure functions of a window, time zones and an instant (no clock reads here).

A window is a daily local-time interval [start, end) on allowed days; `end` before `start`
crosses midnight, and the part after midnight belongs to the day the window opened. A lead with
several possible zones (an area code that spans two) may be called only when the window is open
in all of them: the most restrictive intersection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dialer.domain.campaign import WEEKDAYS, CallingHours
from dialer.domain.timezones import zone

# Far enough to see every allowed weekday twice, across a DST change.
HORIZON = timedelta(days=15)


@dataclass(frozen=True)
class Window:
    """A campaign's calling hours in a form the functions below take."""

    start: time
    end: time
    days: frozenset[int]  # 0 = Monday

    @classmethod
    def of(cls, hours: CallingHours) -> Window:
        return cls(hours.start, hours.end, frozenset(WEEKDAYS.index(d) for d in hours.days))

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start


def is_open_in(window: Window, zone_name: str, at: datetime) -> bool:
    """Whether `at` falls inside the window in the local time of `zone_name`."""
    local = at.astimezone(zone(zone_name))
    clock = local.time().replace(tzinfo=None)
    if not window.crosses_midnight:
        return local.weekday() in window.days and window.start <= clock < window.end
    if clock >= window.start:
        return local.weekday() in window.days
    return clock < window.end and (local.weekday() - 1) % 7 in window.days


def is_open(window: Window, zones: Sequence[str], at: datetime) -> bool:
    """Open in every one of `zones` (a lead without a known zone is never open)."""
    return bool(zones) and all(is_open_in(window, z, at) for z in zones)


def local_instant(day: date, clock: time, zone_name: str) -> datetime:
    """The first UTC instant at which the local wall clock of `zone_name` on `day` reads
    `clock` or later: the earlier of two readings in a fall-back hour, the end of the gap in
    a spring-forward hour."""
    tz = zone(zone_name)
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # `clock` does not exist that day: find the transition between the two readings.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    low, high = min(low, high), max(low, high)
    before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _next_opening_in(window: Window, zone_name: str, at: datetime) -> datetime | None:
    if is_open_in(window, zone_name, at):
        return at
    today = at.astimezone(zone(zone_name)).date()
    for offset in range(-1, HORIZON.days + 1):
        day = today + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        opening = local_instant(day, window.start, zone_name)
        if opening > at and is_open_in(window, zone_name, opening):
            return opening
    return None


def next_opening(window: Window, zones: Sequence[str], at: datetime) -> datetime | None:
    """The first instant at or after `at` when the window is open in every zone, or None if
    that never happens (no zone known, or zones whose windows never overlap)."""
    if not zones:
        return None
    limit = at + HORIZON
    candidate = at
    while candidate <= limit:
        openings = [_next_opening_in(window, z, candidate) for z in zones]
        if any(o is None for o in openings):
            return None
        latest = max(o for o in openings if o is not None)
        if is_open(window, zones, latest):
            return latest
        # one zone closed while another opened: look again from a little later
        candidate = max(latest, candidate + timedelta(minutes=1))
    return None


def next_day_opening(window: Window | None, zones: Sequence[str], at: datetime) -> datetime:
    """When a callback asked for without a delay happens: the window's first opening on a
    later local day (24 hours later without calling hours or a known zone)."""
    if window is None or not zones:
        return at + timedelta(days=1)
    midnights = []
    for z in zones:
        tomorrow = at.astimezone(zone(z)).date() + timedelta(days=1)
        midnights.append(local_instant(tomorrow, time(0, 0), z))
    opening = next_opening(window, zones, max(midnights))
    return opening if opening is not None else at + timedelta(days=1)


def effective_zones(hours: CallingHours, key: str) -> tuple[str, ...]:
    """The zones whose windows a lead must be inside: the campaign's fixed zone, else the lead's
    own, else the campaign's fallback; () when none is known."""
    if hours.timezone != "auto":
        return (hours.timezone,)
    if key:
        return tuple(key.split("|"))
    if hours.fallback_timezone:
        return (hours.fallback_timezone,)
    return ()
