"""Screening: which of the leads a claim found are dialed now, skipped for good, or deferred.

The store counts and reads (the do-not-call list, recent calls per number); these functions
decide. Every skip and deferral carries its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.domain.hours import ZoneFilter
from dialer.domain.states import SkipReason

DAILY_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Candidate:
    """A due lead as a claim found it."""

    lead_id: int
    to_number: str
    zone_key: str
    on_do_not_call_list: bool


@dataclass(frozen=True)
class RecentCalls:
    """Calls to one number in the last 24 hours, in every campaign of the store."""

    count: int
    oldest: datetime


@dataclass(frozen=True)
class Skip:
    """The lead can never be called here: it ends `skipped` with `reason`."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """Not now: the lead is due again at `until` (no attempt is spent)."""

    until: datetime
    reason: str


Verdict = Skip | Defer | None  # None: dial it


def daily_limit_until(per_day: int | None, recent: RecentCalls | None) -> datetime | None:
    """When a number that had `per_day` calls in the last day may be called again (a rolling
    day: when the oldest of them is a day old); None when it is under its limit."""
    if per_day is None or recent is None or recent.count < per_day:
        return None
    return recent.oldest + DAILY_WINDOW


def screen(
    candidate: Candidate,
    *,
    zones: ZoneFilter | None,
    recent_calls: Mapping[str, RecentCalls],
    per_number_per_day: int | None,
) -> Verdict:
    """Dial, skip or defer one candidate."""
    if candidate.on_do_not_call_list:
        return Skip(SkipReason.DO_NOT_CALL)
    if zones is not None and candidate.zone_key in zones.never:
        return Skip(zones.never[candidate.zone_key])
    until = daily_limit_until(per_number_per_day, recent_calls.get(candidate.to_number))
    if until is not None:
        return Defer(until, "max_attempts_per_number_per_day")
    return None
