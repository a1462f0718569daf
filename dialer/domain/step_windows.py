"""When a step's named window (`evening: 17:00-19:30`) next lets a lead be called: the first
instant inside both that window and the campaign's calling hours, in the lead's local time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dialer.domain.campaign import WEEKDAYS, CallingHours
from dialer.domain.hours import Window, effective_zones, is_open, next_opening
from dialer.domain.steps import LocalWindow

_ROUNDS = 60  # alternations between the two windows before giving up on an overlap


def named_window(named: LocalWindow) -> Window:
    return Window(named.start, named.end, frozenset(WEEKDAYS.index(d) for d in named.days))


def lead_zones(hours: CallingHours | None, zone_key: str) -> Sequence[str]:
    """The zones a lead's local time is read in (UTC when none is known)."""
    zones = (
        effective_zones(hours, zone_key) if hours else tuple(z for z in zone_key.split("|") if z)
    )
    return zones or ("UTC",)


def window_opening(
    named: LocalWindow, hours: CallingHours | None, zone_key: str, at: datetime
) -> datetime:
    """The first instant at or after `at` inside `named` and inside `hours` (if any) in every
    zone of the lead; the named window's own opening when the two never overlap (calling hours
    still gate the dial), `at` when the window never opens."""
    zones = lead_zones(hours, zone_key)
    mine = named_window(named)
    theirs = Window.of(hours) if hours else None
    first = next_opening(mine, zones, at)
    if first is None:
        return at
    candidate = first
    for _ in range(_ROUNDS):
        if theirs is None or is_open(theirs, zones, candidate):
            return candidate
        opened = next_opening(theirs, zones, candidate)
        if opened is None:
            return first
        if is_open(mine, zones, opened):
            return opened
        following = next_opening(mine, zones, opened)
        if following is None:
            return first
        candidate = following
    return first
