"""When a step's named window (`evening: 17:00-19:30`) next lets a lead be called: the first
instant inside both that window and the campaign's calling rules (hours, state rules, skip
dates, holidays), in the lead's local time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dialer.domain.calling_rules import CallingRules, Place
from dialer.domain.calling_rules import next_opening as rules_opening
from dialer.domain.campaign import WEEKDAYS, CallingHours, CampaignSettings
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
    named: LocalWindow,
    hours: CallingHours | None,
    zone_key: str,
    at: datetime,
    *,
    rules: CallingRules | None = None,
    states_key: str = "",
) -> datetime:
    """The first instant at or after `at` inside `named` in every zone of the lead and in
    which the lead may be called: by `rules` (calling hours, state rules, skip dates and
    holidays) when given, else by `hours` (if any). The named window's own opening when the
    two never overlap (the rules still gate the dial), `at` when the window never opens."""
    zones = lead_zones(hours, zone_key)
    mine = named_window(named)
    first = next_opening(mine, zones, at)
    if first is None:
        return at
    place = Place(zone_key, states_key)
    candidate = first
    for _ in range(_ROUNDS):
        if rules is not None:
            opened = rules_opening(rules, place, candidate)
        elif hours is not None:
            opened = next_opening(Window.of(hours), zones, candidate)
        else:
            opened = candidate
        if opened is None:
            return first
        if is_open(mine, zones, opened):
            return opened
        following = next_opening(mine, zones, opened)
        if following is None:
            return first
        candidate = following
    return first


def window_wait(
    settings: CampaignSettings, plan: Mapping[str, Any] | None, zone_key: str, at: datetime
) -> datetime | None:
    """When an attempt a step sent to a named window may be dialed, if not at `at`: a lead
    due at the window's opening may still reach its dial after the window closed (pacing, a
    backlog, a pause). None: no window, or open now."""
    name = (plan or {}).get("window")
    named = settings.windows.get(name) if isinstance(name, str) else None
    if named is None:
        return None
    hours = settings.calling_hours
    if is_open(named_window(named), lead_zones(hours, zone_key), at):
        return None
    opening = window_opening(named, hours, zone_key, at)
    return opening if opening > at else None  # a window that never opens holds nothing up
