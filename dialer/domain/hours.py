"""Calling hours: pure functions of a window, time zones and an instant (no clock reads here).

A window is a daily local-time interval [start, end) on allowed days; `end` before `start`
crosses midnight, and the part after midnight belongs to the day the window opened. A lead with
several possible zones (an area code that spans two) may be called only when the window is open
in all of them: the most restrictive intersection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dialer.domain.campaign import WEEKDAYS, CallingHours
from dialer.domain.states import SkipReason
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


@dataclass(frozen=True)
class ZoneSchedule:
    """Which of a campaign's zone keys may be dialed at one instant."""

    open_keys: frozenset[str]
    never_keys: frozenset[str]
    next_opening: datetime | None  # earliest opening among the keys waiting now

    def waiting(self, key: str) -> bool:
        return key not in self.open_keys and key not in self.never_keys

    def waiting_count(self, leads_by_key: dict[str, int]) -> int:
        """How many of these leads wait for their window."""
        return sum(n for key, n in leads_by_key.items() if self.waiting(key))


def schedule(hours: CallingHours | None, keys: Iterable[str], at: datetime) -> ZoneSchedule:
    """Sort zone keys into open now / never open / waiting, with the next opening among the
    waiting. Without calling hours every key is open."""
    keys = list(keys)
    if hours is None:
        return ZoneSchedule(frozenset(keys), frozenset(), None)
    window = Window.of(hours)
    open_keys, never_keys, openings = set(), set(), []
    for key in keys:
        opening = next_opening(window, effective_zones(hours, key), at)
        if opening is None:
            never_keys.add(key)
        elif opening <= at:
            open_keys.add(key)
        else:
            openings.append(opening)
    return ZoneSchedule(frozenset(open_keys), frozenset(never_keys), min(openings, default=None))


def waiting_for_window(
    hours: CallingHours | None, leads_by_key: dict[str, int], at: datetime
) -> tuple[int, datetime | None]:
    """How many due leads wait for their window at `at`, and when the next window opens."""
    plan = schedule(hours, leads_by_key, at)
    return plan.waiting_count(leads_by_key), plan.next_opening


def never_reason(hours: CallingHours, key: str) -> SkipReason:
    """Why a lead with zone key `key` can never be called under `hours`."""
    if not effective_zones(hours, key):
        return SkipReason.NO_TIME_ZONE
    return SkipReason.NEVER_IN_HOURS


@dataclass(frozen=True)
class ZoneFilter:
    """Calling hours as a claim sees them: zone keys open now, and keys that never open
    (with the reason their leads are skipped). Leads of other keys wait."""

    dialable: frozenset[str]
    never: dict[str, str]

    @property
    def keys_to_read(self) -> list[str]:
        """The keys a claim reads: open now, or never open (those leads are skipped)."""
        return [*self.dialable, *self.never]

    @classmethod
    def of(cls, hours: CallingHours, plan: ZoneSchedule) -> ZoneFilter:
        return cls(plan.open_keys, {key: never_reason(hours, key) for key in plan.never_keys})
