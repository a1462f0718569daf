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
COST_RECHECK = timedelta(seconds=5)  # a claim waiting for late costs looks again after this


# Before a campaign's own costs are known, a minute of call is priced at the campaign's
# `cost_per_minute` (default: dialer.domain.campaign) and a call is expected to last this long.
PRIOR_CALL_MS = 120_000
# An ended call whose cost has not come this long after its end is not waited for: its estimate
# counts as spent (Retell reports costs with the analysis, within minutes).
COST_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class Spend:
    """What a campaign's calls cost: the cents Retell reported (over how many calls and how
    much call time), and the calls whose cost is not known yet — ended ones (their call time,
    split by whether their cost may still come) and live ones (how long each has lasted)."""

    cents: float = 0.0
    calls: int = 0
    billed_ms: int = 0
    uncosted_calls: int = 0  # ended, cost may still come
    uncosted_ms: int = 0
    stale_calls: int = 0  # ended longer than COST_WAIT ago, still no cost
    stale_ms: int = 0
    live_ms: tuple[int, ...] = ()  # how long each live call has lasted so far

    @property
    def per_call(self) -> float | None:
        return self.cents / self.calls if self.calls else None

    def expected_call_ms(self) -> float:
        """The campaign's mean call time so far (ended calls, costed or not), else the prior."""
        ended = self.calls + self.uncosted_calls + self.stale_calls
        if not ended:
            return PRIOR_CALL_MS
        return (self.billed_ms + self.uncosted_ms + self.stale_ms) / ended


@dataclass(frozen=True)
class Budget:
    """A campaign's ceiling on spend, and its price of a minute of call until its own costs
    are known."""

    usd: float
    prior_cents_per_minute: float

    def cents_per_minute(self, spend: Spend) -> float:
        """The campaign's own price of a call minute once a minute of calls is costed; the
        prior before."""
        if spend.billed_ms >= 60_000 and spend.cents > 0:
            return spend.cents / (spend.billed_ms / 60_000)
        return self.prior_cents_per_minute

    def estimate(self, spend: Spend) -> tuple[float, float]:
        """(cents of calls whose cost may still come — live, and ended lately; cents of ended
        calls whose cost did not come — counted as spent)."""
        rate = self.cents_per_minute(spend) / 60_000
        expected = spend.expected_call_ms()
        live = sum(max(float(ms), expected) for ms in spend.live_ms)
        return (spend.uncosted_ms + live) * rate, spend.stale_ms * rate

    def next_call_cents(self, spend: Spend) -> float:
        return spend.expected_call_ms() * self.cents_per_minute(spend) / 60_000

    def note(self, spend: Spend) -> str:
        pending, stale = self.estimate(spend)
        known = spend.cents + stale
        return (
            f"budget reached: ${known / 100:,.2f} spent (known) + ${pending / 100:,.2f} "
            f"pending estimate, of ${self.usd:,.2f}"
        )


@dataclass(frozen=True)
class BudgetCheck:
    """How many more calls the budget allows now; `pause` when even known spend leaves no
    room for one more call, `wait` when only costs that may still come stand in the way."""

    calls: int
    pause: bool = False
    wait: bool = False


def check_budget(budget: Budget, spend: Spend) -> BudgetCheck:
    """Spend known, plus the expected cost of every call not costed yet (live and ended),
    plus the calls to come: never past the budget. Pause when what is known (with the
    estimates of costs that will not come) leaves no room for one more call; while costs that
    may still come are what stand in the way, wait for them (they replace the estimate)."""
    pending, stale = budget.estimate(spend)
    per_call = max(budget.next_call_cents(spend), 1e-9)
    sure = budget.usd * 100 - spend.cents - stale
    if sure < per_call:
        return BudgetCheck(0, pause=True)
    calls = math.floor((sure - pending) / per_call)
    return BudgetCheck(calls) if calls > 0 else BudgetCheck(0, wait=True)


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
    budget: Budget | None = None,
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
    if budget is not None and spend is not None:
        check = check_budget(budget, spend)
        if check.pause:
            return ClaimPlan(0, 0, start, interval, pause_reason=budget.note(spend))
        if check.wait:  # costs that may still come stand in the way: look again shortly
            return ClaimPlan(0, free, start, interval, (COST_RECHECK / speed).total_seconds())
        limit = min(limit, check.calls)
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


def spend_words(known_cents: float, pending_cents: float) -> str:
    """`$3.20 + $0.75 pending`: what Retell reported, and the expected cost of the calls whose
    cost has not come yet (Retell reports it a while after each call)."""
    known = f"${known_cents / 100:,.2f}"
    if pending_cents < 0.5:
        return known
    return f"{known} + ${pending_cents / 100:,.2f} pending"


# Retell's lowest published price of a call minute (the voice engine alone), US$.
LOWEST_PRICE_PER_MINUTE = 0.07


def prior_warning(budget_usd: float | None, cost_per_minute: float) -> str | None:
    """What a person should know of a budget whose prior is below Retell's lowest price:
    until Retell reports the campaign's first costs (minutes after its first calls), it plans
    with that price, so it may start more calls than the budget pays for."""
    if budget_usd is None or cost_per_minute >= LOWEST_PRICE_PER_MINUTE:
        return None
    return (
        f"cost_per_minute {cost_per_minute:g} is below Retell's lowest price "
        f"(${LOWEST_PRICE_PER_MINUTE:.2f} a minute): until Retell reports this campaign's "
        "first costs, the budget plans with it and may be overspent"
    )
