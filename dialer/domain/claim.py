"""Which of the due leads a claim found are dialed now (and from which number, at which dial
slot), skipped for good, or deferred. Pure: the store reads the candidates and the counts, this
decides, the store writes the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dialer.domain.caller_id import AT_CEILING, PoolNumber, choose_from_number, count_call
from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.list_edits import REMOVED_FROM_LIST
from dialer.domain.pacing import ClaimPlan
from dialer.domain.screening import (
    DAILY_WINDOW,
    Candidate,
    Defer,
    NamedCap,
    Skip,
    screen,
)
from dialer.domain.state_rules import CallCap

DIALED_BY = "dialed_by"  # dialed_by:<campaign>: another campaign called the number lately


@dataclass(frozen=True)
class RecentCall:
    """A call to a number, in any campaign of the store."""

    at: datetime
    campaign: str


@dataclass(frozen=True)
class DueLead:
    """A due lead as the claim's read found it."""

    lead_id: int
    to_number: str
    place: Place
    on_do_not_call_list: bool = False
    has_consent: bool = False
    removed: bool = False  # the campaign's list no longer has it
    from_number: str | None = None  # its sticky from-number, if it has one


@dataclass(frozen=True)
class CallerIds:
    """How a claim gives each lead its from-number."""

    local_presence: bool = False
    ceiling: int | None = None  # calls per from-number in a rolling day, across campaigns


@dataclass(frozen=True)
class ClaimRules:
    """What decides a claim besides pacing: the places open now, the caps on calls to one
    number, consent, and the campaign's dedupe across campaigns."""

    campaign: str
    places: PlaceFilter | None = None
    caps: tuple[NamedCap, ...] = ()
    state_caps: Mapping[str, Sequence[CallCap]] = field(default_factory=dict)
    require_consent: bool = False
    dedupe_across: timedelta | None = None
    caller_ids: CallerIds | None = None


@dataclass(frozen=True)
class Dial:
    lead: DueLead
    from_number: str | None  # None: the campaign's only from_number
    slot: datetime


@dataclass(frozen=True)
class Selection:
    dial: list[Dial] = field(default_factory=list)
    skipped: dict[str, list[int]] = field(default_factory=dict)
    deferred: list[tuple[int, datetime, str]] = field(default_factory=list)


def select(
    due: Sequence[DueLead],
    rules: ClaimRules,
    plan: ClaimPlan,
    *,
    recent_calls: Mapping[str, Sequence[RecentCall]],
    pool: Sequence[PoolNumber] | None,
    now: datetime,
) -> Selection:
    """Dial, skip or defer each due lead, in order; a dialed lead takes the plan's next slot
    and (with a pool) the least used suitable from-number, counted as it is given."""
    selection = Selection()
    numbers = list(pool) if pool is not None else None
    for lead in due:
        verdict = _verdict(lead, rules, recent_calls.get(lead.to_number, ()), now)
        if isinstance(verdict, Skip):
            selection.skipped.setdefault(verdict.reason, []).append(lead.lead_id)
            continue
        if isinstance(verdict, Defer):
            selection.deferred.append((lead.lead_id, verdict.until, verdict.reason))
            continue
        chosen: str | None = None
        if numbers is not None and rules.caller_ids is not None:
            chosen = choose_from_number(
                numbers,
                sticky=lead.from_number,
                to_number=lead.to_number,
                lead_states=lead.place.states,
                local_presence=rules.caller_ids.local_presence,
                ceiling=rules.caller_ids.ceiling,
            )
            if chosen is None:
                selection.deferred.append((lead.lead_id, pool_frees_at(numbers, now), AT_CEILING))
                continue
            numbers = count_call(numbers, chosen, now)
        selection.dial.append(Dial(lead, chosen, plan.slot(len(selection.dial))))
    return selection


def _verdict(
    lead: DueLead, rules: ClaimRules, calls: Sequence[RecentCall], now: datetime
) -> Skip | Defer | None:
    if lead.removed:
        return Skip(REMOVED_FROM_LIST)
    verdict = screen(
        Candidate(
            lead.lead_id,
            lead.to_number,
            lead.place,
            lead.on_do_not_call_list,
            has_consent=lead.has_consent,
        ),
        places=rules.places,
        recent_calls={lead.to_number: [c.at for c in calls]},
        caps=rules.caps,
        state_caps=rules.state_caps,
        require_consent=rules.require_consent,
        now=now,
    )
    if isinstance(verdict, Skip) or rules.dedupe_across is None:
        return verdict
    since = now - rules.dedupe_across
    other = next((c.campaign for c in calls if c.campaign != rules.campaign and c.at > since), None)
    return Skip(f"{DIALED_BY}:{other}") if other is not None else verdict


def lookback(rules: ClaimRules) -> timedelta | None:
    """How far back a claim must read calls to its candidates' numbers; None: not at all."""
    periods = [c.cap.per for c in rules.caps]
    periods += [c.per for caps in rules.state_caps.values() for c in caps]
    if rules.dedupe_across is not None:
        periods.append(rules.dedupe_across)
    return max(periods, default=None)


def pool_frees_at(pool: Sequence[PoolNumber], now: datetime) -> datetime:
    """When a lead that found no from-number with room looks again: when the oldest call of
    a usable number leaves its rolling day (a minute from now if that is unknown)."""
    known = [
        p.oldest_call_at + DAILY_WINDOW
        for p in pool
        if not p.retired and p.oldest_call_at is not None and p.oldest_call_at + DAILY_WINDOW > now
    ]
    return min(known, default=now + timedelta(minutes=1))
