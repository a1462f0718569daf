"""When a lead may be called: the campaign's calling hours, the state rules of every state the
lead is in, the state's holidays, federal holidays and the campaign's own skip dates, all in the
callee's local time. Pure functions of the rules, a lead's place and an instant.

A lead's *place* is what the store keeps of where it is: its zone key (dialer.domain.timezones)
and its states key (dialer.domain.state_rules). Leads of one place share every answer, so a
claim asks once per place, not once per lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from dialer.domain.campaign import CallingHours, CampaignSettings
from dialer.domain.days_off import federal_holiday, state_holiday
from dialer.domain.hours import HORIZON, Window, effective_zones, is_open_in, local_instant
from dialer.domain.state_rules import RuleBook, StateRule, states_of
from dialer.domain.states import SkipReason
from dialer.domain.timezones import zone

# Why a lead may not be called at an instant (machine-readable; a state's code follows the colon).
CALLING_HOURS = "calling_hours"
STATE_HOURS = "state_hours"  # state_hours:FL
STATE_HOLIDAY = "state_holiday"  # state_holiday:PA
FEDERAL_HOLIDAY = "federal_holiday"
SKIP_DATE = "skip_date"


class Place(NamedTuple):
    zones: str  # the lead's zone key: '|'-joined IANA names, '' when unknown
    states: str  # the lead's states key: '|'-joined USPS codes, '' when unknown


@dataclass(frozen=True)
class CallingRules:
    """Everything that decides *when* a campaign's leads may be called."""

    hours: CallingHours | None = None
    states: RuleBook = field(default_factory=dict)
    skip_dates: frozenset[date] = frozenset()
    skip_federal_holidays: bool = False

    @classmethod
    def of(cls, settings: CampaignSettings, book: RuleBook) -> CallingRules:
        return cls(
            settings.calling_hours,
            book,
            frozenset(settings.skip_dates),
            settings.skip_federal_holidays,
        )

    def restricts(self, place: Place) -> bool:
        """Whether any rule can keep a lead of `place` from being called."""
        if self.hours is not None or self.skip_dates or self.skip_federal_holidays:
            return True
        return any(s in self.states for s in states_of(place.states))

    def rules_for(self, place: Place) -> list[StateRule]:
        return [self.states[s] for s in states_of(place.states) if s in self.states]

    def callee_zones(self, place: Place) -> tuple[str, ...]:
        """The zones whose local date and clock state rules and holidays are read in: the
        lead's own, else the campaign's fallback, else its fixed calling-hours zone."""
        if place.zones:
            return tuple(place.zones.split("|"))
        if self.hours is not None:
            return effective_zones(self.hours, place.zones)
        return ()


def closed_reason(rules: CallingRules, place: Place, at: datetime) -> str | None:
    """Why a lead of `place` may not be called at `at`; None when it may."""
    if rules.hours is not None:
        window_zones = effective_zones(rules.hours, place.zones)
        if not window_zones:
            return SkipReason.NO_TIME_ZONE
        window = Window.of(rules.hours)
        if not all(is_open_in(window, z, at) for z in window_zones):
            return CALLING_HOURS
    state_rules = rules.rules_for(place)
    zones = rules.callee_zones(place)
    if not zones:
        if state_rules:  # a state rule is read in local time: unknown zone, fail closed
            return SkipReason.NO_TIME_ZONE
        zones = ("UTC",)
    for zone_name in zones:
        local = at.astimezone(zone(zone_name))
        day, clock = local.date(), local.time().replace(tzinfo=None)
        if day in rules.skip_dates:
            return SKIP_DATE
        if rules.skip_federal_holidays and federal_holiday(day):
            return FEDERAL_HOLIDAY
        for rule in state_rules:
            holiday = rule.holiday_rule and state_holiday(rule.state, day) is not None
            window_today = rule.window_on(day, holiday)
            if window_today is None or not window_today.contains(clock):
                return f"{STATE_HOLIDAY if holiday else STATE_HOURS}:{rule.state}"
    return None


def _edge_clocks(rules: CallingRules, place: Place, edge: str) -> set[time]:
    """Local clock times at which some rule opens (`edge` "start") or closes ("end"): an
    intersection of windows can only change at one of them; midnight starts and ends a banned
    day, a skip date, a holiday."""
    clocks = {time(0, 0)}
    if rules.hours is not None:
        clocks.add(getattr(rules.hours, edge))
    for rule in rules.rules_for(place):
        for window in (rule.weekdays, rule.saturday, rule.sunday, rule.holidays):
            if window is not None:
                clocks.add(getattr(window, edge))
    return clocks


def _first_change(
    rules: CallingRules, place: Place, at: datetime, *, edge: str, days: range, opens: bool
) -> datetime | None:
    """The first edge instant after `at`, within `days` of `at`'s date, at which a lead of
    `place` may be called (`opens`) or may not."""
    zones = set(rules.callee_zones(place))
    if rules.hours is not None:
        zones.update(effective_zones(rules.hours, place.zones))
    clocks = _edge_clocks(rules, place, edge)
    candidates: set[datetime] = set()
    for zone_name in zones or {"UTC"}:
        today = at.astimezone(zone(zone_name)).date()
        for offset in days:
            day = today + timedelta(days=offset)
            for clock in clocks:
                instant = local_instant(day, clock, zone_name)
                if instant > at:
                    candidates.add(instant)
    for candidate in sorted(candidates):
        if (closed_reason(rules, place, candidate) is None) is opens:
            return candidate
    return None


def next_opening(rules: CallingRules, place: Place, at: datetime) -> datetime | None:
    """The first instant at or after `at` when a lead of `place` may be called; None when that
    never happens within the horizon (no zone known, or rules that never overlap)."""
    reason = closed_reason(rules, place, at)
    if reason is None:
        return at
    if reason == SkipReason.NO_TIME_ZONE:
        return None
    days = range(-1, HORIZON.days + 1)
    return _first_change(rules, place, at, edge="start", days=days, opens=True)


def next_closing(rules: CallingRules, place: Place, at: datetime) -> datetime | None:
    """The first instant after `at` when a lead of `place`, open at `at`, may no longer be
    called; None when no rule restricts it (or it stays open past the horizon)."""
    if not rules.restricts(place):
        return None
    return _first_change(rules, place, at, edge="end", days=range(3), opens=False)


def never_reason(rules: CallingRules, place: Place) -> str:
    """Why a lead of `place` can never be called under `rules`."""
    if rules.hours is not None and not effective_zones(rules.hours, place.zones):
        return SkipReason.NO_TIME_ZONE
    if rules.rules_for(place) and not rules.callee_zones(place):
        return SkipReason.NO_TIME_ZONE
    return SkipReason.NEVER_IN_HOURS


@dataclass(frozen=True)
class Waiting:
    """A place whose leads may not be called now: why, and when they may."""

    reason: str
    opens_at: datetime


@dataclass(frozen=True)
class PlaceSchedule:
    """Which of a campaign's places may be dialed at one instant."""

    open_places: frozenset[Place]
    never: dict[Place, str]  # with the reason their leads end skipped
    waiting: dict[Place, Waiting]
    next_closing: datetime | None = None  # the earliest instant an open place closes

    @property
    def next_opening(self) -> datetime | None:
        """The earliest opening among the places waiting now."""
        return min((w.opens_at for w in self.waiting.values()), default=None)

    def waiting_count(self, leads_by_place: Mapping[Place, int]) -> int:
        """How many of these leads wait for their window."""
        return sum(n for place, n in leads_by_place.items() if place in self.waiting)

    def waiting_by_reason(self, leads_by_place: Mapping[Place, int]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for place, n in leads_by_place.items():
            if place in self.waiting:
                reason = self.waiting[place].reason
                counts[reason] = counts.get(reason, 0) + n
        return counts


def schedule(
    rules: CallingRules,
    places: Iterable[Place],
    at: datetime,
    lookahead: timedelta = timedelta(0),
) -> PlaceSchedule:
    """Sort places into open now / never open / waiting (with why and until when). A place
    that closes within `lookahead` (how far ahead a claim gives dial slots) waits already: a
    lead claimed now is dialed before its window ends."""
    open_places: set[Place] = set()
    never: dict[Place, str] = {}
    waiting: dict[Place, Waiting] = {}
    closings: list[datetime] = []
    for place in places:
        if not rules.restricts(place):
            open_places.add(place)
            continue
        reason = closed_reason(rules, place, at)
        if reason is None:
            closes = next_closing(rules, place, at)
            if closes is None or closes > at + lookahead:
                open_places.add(place)
                if closes is not None:
                    closings.append(closes - lookahead)
                continue
            reason = closed_reason(rules, place, closes) or CALLING_HOURS
        opening = next_opening(rules, place, at + lookahead)
        if opening is None:
            never[place] = never_reason(rules, place)
        else:
            waiting[place] = Waiting(reason, opening)
    return PlaceSchedule(frozenset(open_places), never, waiting, min(closings, default=None))


def waiting_for_window(
    rules: CallingRules, leads_by_place: Mapping[Place, int], at: datetime
) -> tuple[int, datetime | None, dict[str, int]]:
    """How many due leads wait for their window at `at`, when the next window opens, and how
    many wait for each reason."""
    plan = schedule(rules, leads_by_place, at)
    return (
        plan.waiting_count(leads_by_place),
        plan.next_opening,
        plan.waiting_by_reason(leads_by_place),
    )


@dataclass(frozen=True)
class PlaceFilter:
    """Calling rules as a claim sees them: places open now, and places that never open (with
    the reason their leads are skipped). Leads of other places wait."""

    dialable: frozenset[Place]
    never: dict[Place, str]

    @property
    def places_to_read(self) -> list[Place]:
        """The places a claim reads: open now, or never open (those leads are skipped)."""
        return [*self.dialable, *self.never]

    @classmethod
    def of(cls, plan: PlaceSchedule) -> PlaceFilter:
        return cls(plan.open_places, dict(plan.never))
