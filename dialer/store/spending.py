"""What a campaign's calls cost: what Retell reported, and the calls whose cost has not come
yet (ended ones, and live ones with how long each has lasted) — read for the budget at every
claim, and for the pending estimate `dialer status` shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.pacing import COST_WAIT, Spend
from dialer.domain.states import LIVE_ATTEMPT_STATES, AttemptState
from dialer.store.base import aware
from dialer.store.schema import attempts, campaigns


async def read_spend(conn: AsyncConnection, campaign_id: int, now: datetime, speed: float) -> Spend:
    """What the campaign's calls cost so far, and what is not costed yet: ended calls (a
    partial index finds them) and live ones, with how long each lasted."""
    known = (
        await conn.execute(
            select(campaigns.c.spend_cents, campaigns.c.billed_calls, campaigns.c.billed_ms).where(
                campaigns.c.id == campaign_id
            )
        )
    ).one()
    stale_before = now - COST_WAIT / speed
    uncosted = (attempts.c.state == AttemptState.ENDED) & attempts.c.cost_cents.is_(None)
    duration = func.coalesce(attempts.c.duration_ms, 0)
    stale = attempts.c.settled_at < stale_before
    waiting = (
        await conn.execute(
            select(
                func.count().filter(~stale),
                func.coalesce(func.sum(duration).filter(~stale), 0),
                func.count().filter(stale),
                func.coalesce(func.sum(duration).filter(stale), 0),
            )
            .where(attempts.c.campaign_id == campaign_id)
            .where(uncosted)
        )
    ).one()
    started = await conn.scalars(
        select(func.coalesce(attempts.c.sent_at, attempts.c.created_at))
        .where(attempts.c.campaign_id == campaign_id)
        .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
    )
    live_ms = tuple(
        max(0, int((now - moment).total_seconds() * 1000 * speed))
        for moment in (aware(s) for s in started)
        if moment is not None
    )
    return Spend(
        cents=float(known.spend_cents),
        calls=int(known.billed_calls),
        billed_ms=int(known.billed_ms),
        uncosted_calls=int(waiting[0]),
        uncosted_ms=int(waiting[1]),
        stale_calls=int(waiting[2]),
        stale_ms=int(waiting[3]),
        live_ms=live_ms,
    )
