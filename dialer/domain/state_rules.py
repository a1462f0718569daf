"""US state calling rules: windows per kind of day, Sunday and holiday bans, and per-callee
caps, as typed values and pure functions (no I/O: dialer.inputs.rule_book reads the rows the
package ships and a campaign's overrides).

A rule row says, in the callee's local time, when calls are allowed on weekdays, Saturdays,
Sundays and the state's holidays (`none`: no calls that day), how many calls one callee may get
in a rolling period, where the row comes from and when it was checked. A lead may carry several
states (its address and its area code); every one of them applies, so the strictest wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from dialer.domain.durations import parse_duration


@cache
def us_state_codes() -> frozenset[str]:
    """USPS codes of the states, DC and the territories (as the `holidays` package knows them;
    imported when first needed: it takes a few hundred ms)."""
    from holidays.countries.united_states import UnitedStates

    return frozenset(UnitedStates.subdivisions)


@cache
def _state_names() -> dict[str, str]:
    from holidays.countries.united_states import UnitedStates

    return {name.lower(): code for name, code in UnitedStates.subdivisions_aliases.items()}


def state_code(text: str) -> str | None:
    """`FL`, `fl`, `Florida` → `FL`; None when `text` names no US state or territory."""
    cleaned = text.strip()
    if cleaned.upper() in us_state_codes():
        return cleaned.upper()
    return _state_names().get(cleaned.lower())


# confirmed: statute or bill text read; secondary: a source quoting it; unconfirmed: vendor
# tables only, or sources in conflict; campaign: set or changed by the campaign file.
def yaml_clock(value: object) -> object:
    """A clock time as a campaign file writes it: YAML 1.1 reads an unquoted 09:00 as the
    sexagesimal integer 540."""
    if isinstance(value, int):
        hours, minutes = divmod(value, 60)
        return time(hours % 24, minutes)
    return value


ClockTime = Annotated[time, BeforeValidator(yaml_clock)]
RuleStatus = Literal["confirmed", "secondary", "unconfirmed", "campaign"]
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
NO_CALLS = "none"


@dataclass(frozen=True)
class DayWindow:
    """Allowed local clock times on one day: [start, end), never across midnight."""

    start: time
    end: time  # time(0, 0) here means the end of the day

    def contains(self, clock: time) -> bool:
        return self.start <= clock and (self.end == time(0, 0) or clock < self.end)

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0, 0) else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


def parse_window(text: str) -> DayWindow | None:
    """`"08:00-20:00"` → a window; `"none"` → None (no calls). Raises ValueError, naming the
    value, for anything else."""
    if text.strip().lower() == NO_CALLS:
        return None
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window like 08:00-20:00 (or none)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h2 == 24 and m2 == 0:
        h2 = 0
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{text!r} has a clock time outside 00:00-24:00")
    start, end = time(h1, m1), time(h2, m2)
    if end != time(0, 0) and end <= start:
        raise ValueError(f"{text!r} ends before it starts (state windows do not cross midnight)")
    return DayWindow(start, end)


@dataclass(frozen=True)
class CallCap:
    """At most `calls` calls to one callee in any rolling `per`, across every campaign of the
    store and every from-number."""

    calls: int
    per: timedelta

    def __str__(self) -> str:
        hours = self.per.total_seconds() / 3600
        return f"{self.calls} per {hours:g}h"


@dataclass(frozen=True)
class StateRule:
    state: str  # two-letter USPS code
    weekdays: DayWindow | None
    saturday: DayWindow | None
    sunday: DayWindow | None
    holidays: DayWindow | None  # the window on the state's holidays (None: no calls)
    caps: tuple[CallCap, ...]
    source: str
    status: RuleStatus
    checked: date
    holiday_rule: bool = False  # whether the row says anything of holidays at all

    def window_on(self, day: date, holiday: bool) -> DayWindow | None:
        """The allowed window on local `day`: the day's own, narrowed on a holiday when the
        row has a holiday rule (a Sunday ban still holds on a Sunday holiday)."""
        weekday = day.weekday()
        own = self.saturday if weekday == 5 else self.sunday if weekday == 6 else self.weekdays
        if not (holiday and self.holiday_rule):
            return own
        return _intersection(own, self.holidays)


def _intersection(a: DayWindow | None, b: DayWindow | None) -> DayWindow | None:
    if a is None or b is None:
        return None
    start = max(a.start, b.start)
    ends = [w.end for w in (a, b) if w.end != time(0, 0)]  # 00:00 ends the day
    end = min(ends) if ends else time(0, 0)
    if end != time(0, 0) and end <= start:
        return None
    return DayWindow(start, end)


RuleBook = Mapping[str, StateRule]


class StateRuleRow(BaseModel):
    """One row as the shipped file writes it, or a campaign's override of one (every key
    optional there). `start`/`end` move the edges of every day that allows calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekdays: str | None = None
    saturday: str | None = None
    sunday: str | None = None
    holidays: str | None = None
    start: ClockTime | None = None
    end: ClockTime | None = None
    caps: list[str] | None = None  # "3/24h"
    source: str | None = None
    status: RuleStatus | None = None
    checked: date | None = None

    @field_validator("weekdays", "saturday", "sunday", "holidays")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)
        return value

    @field_validator("caps")
    @classmethod
    def _caps(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            parse_cap(item)
        return value


def parse_cap(text: str) -> CallCap:
    """`"3/24h"` → at most 3 calls in any 24 hours."""
    calls, sep, per = str(text).partition("/")
    if not sep or not calls.strip().isdigit() or int(calls) < 1:
        raise ValueError(f"{text!r} is not a cap like 3/24h (calls/period)")
    return CallCap(int(calls), parse_duration(per))


def _with_edges(window: DayWindow | None, start: time | None, end: time | None) -> DayWindow | None:
    if window is None or (start is None and end is None):
        return window
    return DayWindow(start or window.start, end or window.end)


def build_rule(state: str, row: StateRuleRow, base: StateRule | None = None) -> StateRule:
    """A rule from a row, over `base` (the shipped row a campaign overrides), or alone; a day a
    new row leaves out is unrestricted."""
    all_day = DayWindow(time(0, 0), time(0, 0))

    def day(value: str | None, inherited: DayWindow | None) -> DayWindow | None:
        window = parse_window(value) if value is not None else inherited
        return _with_edges(window, row.start, row.end)

    weekdays = day(row.weekdays, base.weekdays if base else all_day)
    saturday = day(row.saturday, base.saturday if base else weekdays)
    sunday = day(row.sunday, base.sunday if base else weekdays)
    holidays = day(row.holidays, base.holidays if base else weekdays)
    caps = (
        tuple(parse_cap(c) for c in row.caps)
        if row.caps is not None
        else (base.caps if base else ())
    )
    return StateRule(
        state=state,
        weekdays=weekdays,
        saturday=saturday,
        sunday=sunday,
        holidays=holidays,
        caps=caps,
        source=row.source or (f"campaign override of: {base.source}" if base else "campaign"),
        status=row.status or "campaign",
        checked=row.checked or (base.checked if base else date.min),
        holiday_rule=row.holidays is not None or (base.holiday_rule if base else False),
    )


def rule_book(
    shipped: Mapping[str, StateRule], overrides: Mapping[str, StateRuleRow] | None
) -> dict[str, StateRule]:
    """The rules in force for a campaign: the shipped rows with its overrides applied."""
    book = dict(shipped)
    for state, row in (overrides or {}).items():
        book[state] = build_rule(state, row, shipped.get(state))
    return book


def states_of(key: str) -> tuple[str, ...]:
    """The states a lead's stored states key names ('FL|GA' → ('FL', 'GA'))."""
    return tuple(key.split("|")) if key else ()


def lead_states_key(address_state: str | None, number_state: str | None) -> str:
    """What the store keeps of a lead's states: its address state and its area code's state,
    '|'-joined, sorted; '' when neither is known."""
    return "|".join(sorted({s for s in (address_state, number_state) if s}))


def caps_by_state(book: RuleBook) -> dict[str, tuple[CallCap, ...]]:
    """The caps of every state that has any."""
    return {state: rule.caps for state, rule in book.items() if rule.caps}
