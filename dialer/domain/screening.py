"""Screening: which of the leads a claim found are dialed now, skipped for good, or deferred.

The store counts and reads (the do-not-call list, recent calls per number); these functions
decide. Every skip and deferral carries its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.state_rules import CallCap, states_of
from dialer.domain.states import SkipReason

DAILY_WINDOW = timedelta(days=1)
PER_NUMBER_PER_DAY = "max_attempts_per_number_per_day"
MIN_RECALL_GAP = "min_recall_gap"
STATE_CAP = "state_cap"  # state_cap:FL


@dataclass(frozen=True)
class Candidate:
    """A due lead as a claim found it."""

    lead_id: int
    to_number: str
    place: Place
    on_do_not_call_list: bool
    has_consent: bool = False


@dataclass(frozen=True)
class NamedCap:
    """A cap on calls to one callee, with the name a deferral reports."""

    name: str
    cap: CallCap


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


def cap_until(cap: CallCap, calls: Sequence[datetime], now: datetime) -> datetime | None:
    """When a callee who had `calls` (any order) may be called again under `cap`: once fewer
    than `cap.calls` of them are inside the rolling period; None when it may be now."""
    inside = sorted(t for t in calls if t > now - cap.per)
    if len(inside) < cap.calls:
        return None
    return inside[len(inside) - cap.calls] + cap.per


def campaign_caps(
    per_number_per_day: int | None, min_recall_gap: timedelta | None
) -> tuple[NamedCap, ...]:
    """The campaign's own caps on calls to one number (counted across every campaign)."""
    caps = []
    if per_number_per_day is not None:
        caps.append(NamedCap(PER_NUMBER_PER_DAY, CallCap(per_number_per_day, DAILY_WINDOW)))
    if min_recall_gap is not None and min_recall_gap > timedelta(0):
        caps.append(NamedCap(MIN_RECALL_GAP, CallCap(1, min_recall_gap)))
    return tuple(caps)


def caps_for_place(
    place: Place,
    own: Sequence[NamedCap],
    state_caps: Mapping[str, Sequence[CallCap]],
) -> list[NamedCap]:
    """Every cap on a lead of `place`: the campaign's and those of each of its states."""
    caps = list(own)
    for state in states_of(place.states):
        caps.extend(NamedCap(f"{STATE_CAP}:{state}", cap) for cap in state_caps.get(state, ()))
    return caps


def longest_period(
    own: Sequence[NamedCap], state_caps: Mapping[str, Sequence[CallCap]]
) -> timedelta | None:
    """How far back a claim must read calls to judge every cap; None when there is none."""
    periods = [c.cap.per for c in own] + [c.per for caps in state_caps.values() for c in caps]
    return max(periods, default=None)


def screen(
    candidate: Candidate,
    *,
    places: PlaceFilter | None,
    recent_calls: Mapping[str, Sequence[datetime]],
    caps: Sequence[NamedCap] = (),
    state_caps: Mapping[str, Sequence[CallCap]] | None = None,
    require_consent: bool = False,
    now: datetime,
) -> Verdict:
    """Dial, skip or defer one candidate."""
    if candidate.on_do_not_call_list:
        return Skip(SkipReason.DO_NOT_CALL)
    if require_consent and not candidate.has_consent:
        return Skip(SkipReason.NO_CONSENT)
    if places is not None and candidate.place in places.never:
        return Skip(places.never[candidate.place])
    calls = recent_calls.get(candidate.to_number, ())
    if not calls:
        return None
    latest: Defer | None = None
    for named in caps_for_place(candidate.place, caps, state_caps or {}):
        until = cap_until(named.cap, calls, now)
        if until is not None and (latest is None or until > latest.until):
            latest = Defer(until, named.name)
    return latest
