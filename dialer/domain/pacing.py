"""Pacing: how many leads a claim may take, and when each of their dials may start.

Two campaign-wide ceilings: `max_concurrent_calls` (live attempts at once, further capped by
the account's free concurrency) and `calls_per_second` (dial slots spaced 1/rate apart, a
GCRA-style schedule kept as the campaign's `next_dial_at`). A claim looks a short horizon ahead,
so a batch of leads can be claimed at once with their slots already assigned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.domain.campaign import Pacing
from dialer.domain.states import CampaignStatus

CLAIM_HORIZON = timedelta(seconds=0.25)


@dataclass(frozen=True)
class Spend:
    """What a campaign's calls cost so far: cents, over how many calls."""

    cents: float = 0.0
    calls: int = 0

    @property
    def per_call(self) -> float | None:
        return self.cents / self.calls if self.calls else None


def calls_within_budget(budget_usd: float, spend: Spend, live: int) -> int | None:
    """How many more calls may start before spend plus the expected cost of the live calls
    (at the campaign's cost per call so far) would pass the budget; None while no call's cost
    is known yet."""
    per_call = spend.per_call
    if per_call is None or per_call <= 0:
        return None
    left = budget_usd * 100 - spend.cents - live * per_call
    return max(0, math.floor(left / per_call))


def budget_note(budget_usd: float, spend: Spend) -> str:
    return f"budget reached: ${spend.cents / 100:,.2f} spent of ${budget_usd:,.2f}"


@dataclass(frozen=True)
class ClaimPlan:
    """What a claim may take now. `count` 0 means nothing; `retry_in`, when known, is how many
    seconds until pacing or a hold lets the next claim take something."""

    count: int
    free_slots: int
    first_slot: datetime
    interval: timedelta
    retry_in: float | None = None
    pause_reason: str | None = None  # the campaign must pause (its budget is spent)

    def slot(self, index: int) -> datetime:
        """The dial slot of the `index`-th lead claimed (0-based)."""
        return self.first_slot + self.interval * index


def slot_interval(calls_per_second: float, speed: float = 1.0) -> timedelta:
    """The spacing of dial slots. timedelta counts whole microseconds: a rate above 1e6/s
    is "no rate ceiling"."""
    return max(timedelta(seconds=1.0 / (calls_per_second * speed)), timedelta(microseconds=1))


def concurrency_cap(pacing: Pacing, account_cap: int | None) -> int:
    """The campaign's ceiling on live attempts, never above what the account can take."""
    cap = pacing.max_concurrent_calls
    return cap if account_cap is None else min(cap, account_cap)


def plan_claim(
    pacing: Pacing,
    *,
    status: CampaignStatus,
    hold_until: datetime | None,
    live: int,
    next_dial_at: datetime | None,
    now: datetime,
    limit: int,
    account_cap: int | None = None,
    speed: float = 1.0,
    horizon: timedelta = CLAIM_HORIZON,
    budget_usd: float | None = None,
    spend: Spend | None = None,
) -> ClaimPlan:
    """How many leads to claim at `now` (at most `limit`), and their first slot and spacing."""
    interval = slot_interval(pacing.calls_per_second, speed)
    start = max(now, next_dial_at or now)
    if status is not CampaignStatus.ACTIVE:
        return ClaimPlan(0, 0, start, interval)
    if hold_until is not None and hold_until > now:
        return ClaimPlan(0, 0, start, interval, (hold_until - now).total_seconds())
    free = concurrency_cap(pacing, account_cap) - live
    if free <= 0:
        return ClaimPlan(0, 0, start, interval)
    if budget_usd is not None and spend is not None:
        affordable = calls_within_budget(budget_usd, spend, live)
        if affordable == 0:
            return ClaimPlan(0, 0, start, interval, pause_reason=budget_note(budget_usd, spend))
        if affordable is not None:
            limit = min(limit, affordable)
    latest = now + horizon
    if start > latest:
        return ClaimPlan(0, free, start, interval, (start - latest).total_seconds())
    by_rate = math.floor((latest - start) / interval) + 1
    return ClaimPlan(min(limit, free, by_rate), free, start, interval)


def next_free_slot(
    pacing: Pacing, next_dial_at: datetime | None, now: datetime, speed: float = 1.0
) -> tuple[datetime, datetime]:
    """One dial slot outside a claim (a resend that settles an attempt in doubt is a dial too):
    (the slot, the campaign's next_dial_at after it)."""
    start = max(now, next_dial_at or now)
    return start, start + slot_interval(pacing.calls_per_second, speed)
