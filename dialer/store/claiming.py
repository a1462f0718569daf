"""Claiming due leads for dialing, within both campaign-wide ceilings, in one short transaction.

The transaction is serialized per campaign (an advisory lock on Postgres, BEGIN IMMEDIATE on
SQLite), so the live count and the pacing row cannot be read stale by a concurrent claim. Each
claimed lead gets an attempt row before any request is sent, and a dial slot spaced
1/calls_per_second after the previous one, campaign-wide. How many to claim and which
candidates to dial, skip or defer is decided by the domain (pacing, screening); this module
reads, counts and writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.caller_id import NO_NUMBER_LEFT, PoolNumber, usable
from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.campaign import Pacing
from dialer.domain.claim import DueLead, RecentCall, lookback
from dialer.domain.claim import select as select_claim
from dialer.domain.lifecycle import Cause, paused
from dialer.domain.pacing import next_free_slot, plan_claim
from dialer.domain.screening import DAILY_WINDOW
from dialer.domain.states import (
    DUE_LEAD_STATES,
    LIVE_ATTEMPT_STATES,
    AttemptState,
    CampaignStatus,
    LeadState,
)
from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase, aware
from dialer.store.campaigns import write_transition
from dialer.store.export_rows import RECORDED_VARIANT
from dialer.store.outbox_writes import write_leads_finished
from dialer.store.records import (
    Attempt,
    CallerIdPlan,
    Claim,
    ClaimRequest,
    NumberBusyError,
    attempt_for_lead,
)
from dialer.store.schema import attempts, campaigns, leads, retired_numbers, suppressions
from dialer.store.spending import read_spend


class ClaimingQueries(StoreBase):
    @rides_out_outages
    async def claim(
        self,
        campaign_id: int,
        worker_id: str,
        request: ClaimRequest,
        *,
        places: PlaceFilter | None = None,
        account_cap: int | None = None,
    ) -> Claim:
        """Claim due leads for dialing: of `places` (None: any), within the campaign's ceilings
        and `account_cap` (the account's free concurrency, if known). Raises NumberBusyError
        when another campaign took one of the same numbers at this instant (nothing is claimed
        then)."""
        try:
            async with self.transaction() as conn:
                return await self._claim(conn, campaign_id, worker_id, request, places, account_cap)
        except IntegrityError as exc:  # the one-live-attempt-per-number index
            raise NumberBusyError(str(exc.orig)) from None

    async def _claim(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        worker_id: str,
        request: ClaimRequest,
        places: PlaceFilter | None,
        account_cap: int | None,
    ) -> Claim:
        await self.lock_campaign(conn, campaign_id)
        row = (
            await conn.execute(
                select(
                    campaigns.c.status,
                    campaigns.c.next_dial_at,
                    campaigns.c.hold_until,
                ).where(campaigns.c.id == campaign_id)
            )
        ).one()
        now = await self.now(conn)
        status = CampaignStatus(row.status)
        live = await self._live_count(conn, campaign_id)
        budget = request.budget
        plan = plan_claim(
            request.pacing,
            status=status,
            hold_until=row.hold_until,
            live=live,
            next_dial_at=row.next_dial_at,
            now=now,
            limit=request.limit,
            account_cap=account_cap,
            speed=request.speed,
            budget=budget,
            spend=await read_spend(conn, campaign_id, now, request.speed) if budget else None,
        )
        if plan.pause_reason is not None:
            await write_transition(conn, campaign_id, paused(Cause.BUDGET, plan.pause_reason), now)
            return Claim([], now, CampaignStatus.PAUSED, None, 0)
        if not plan.count:
            return Claim([], now, status, plan.retry_in, plan.free_slots)
        pool = await self._pool_as_of(conn, campaign_id, request.caller_ids, now)
        if pool is not None and not usable(pool):
            await write_transition(
                conn, campaign_id, paused(Cause.NO_NUMBER_LEFT, NO_NUMBER_LEFT), now
            )
            return Claim([], now, CampaignStatus.PAUSED, None, 0)
        rows = await self._due_candidates(conn, campaign_id, now, plan.count, places)
        rules = replace(request.rules, places=places)
        period = lookback(rules)
        recent = (
            await self._recent_calls(conn, {r.to_number for r in rows}, now - period)
            if period is not None
            else {}
        )
        by_id = {r.id: r for r in rows}
        chosen = select_claim(
            [_due_lead(r) for r in rows], rules, plan, recent_calls=recent, pool=pool, now=now
        )
        await self._write_skips(conn, chosen.skipped, now)
        await self._write_deferrals(conn, chosen.deferred, now)
        claimed = [
            self._attempt(campaign_id, by_id[d.lead.lead_id], now, d.slot, d.from_number)
            for d in chosen.dial
        ]
        if claimed:
            await self._write_claims(conn, worker_id, claimed, now, request.lease_seconds)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(next_dial_at=plan.slot(len(claimed)))
            )
        return Claim(claimed, now, status, None, plan.free_slots - len(claimed))

    @staticmethod
    def _attempt(
        campaign_id: int, row: Any, now: datetime, send_at: datetime, from_number: str | None = None
    ) -> Attempt:
        return attempt_for_lead(
            row,
            campaign_id,
            attempt_id=str(uuid.uuid4()),
            number=row.attempts + 1,
            to_number=row.to_number,
            created_at=now,
            send_at=send_at,
            from_number=from_number,
            variant=row.recorded_variant,  # the placer keeps it while the campaign has it
        )

    @rides_out_outages
    async def reserve_dial_slot(
        self, campaign_id: int, pacing: Pacing, speed: float = 1.0
    ) -> float:
        """Take the campaign's next dial slot outside a claim (a resend that settles an attempt
        in doubt is a dial too). Returns the seconds to wait before sending."""
        async with self.transaction() as conn:
            await self.lock_campaign(conn, campaign_id)
            next_dial_at = await conn.scalar(
                select(campaigns.c.next_dial_at).where(campaigns.c.id == campaign_id)
            )
            now = await self.now(conn)
            slot, following = next_free_slot(pacing, aware(next_dial_at), now, speed)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(next_dial_at=following)
            )
            return (slot - now).total_seconds()

    async def _due_candidates(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        now: datetime,
        limit: int,
        places: PlaceFilter | None,
    ) -> list[Any]:
        live_same_number = exists().where(
            and_(
                attempts.c.to_number == leads.c.to_number, attempts.c.state.in_(LIVE_ATTEMPT_STATES)
            )
        )
        suppressed = exists().where(suppressions.c.to_number == leads.c.to_number)
        stmt = (
            select(
                leads.c.id,
                leads.c.id.label("lead_id"),
                leads.c.to_number,
                leads.c.zones,
                leads.c.states,
                leads.c.dynamic_variables,
                leads.c.call_metadata,
                leads.c.attempts,
                leads.c.consent_at,
                leads.c.from_number,
                leads.c.alternates,
                leads.c.number_index,
                leads.c.lead_key,
                leads.c.next_plan,
                leads.c.removed_at,
                suppressed.label("suppressed"),
                RECORDED_VARIANT.label("recorded_variant"),
            )
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .where(leads.c.next_attempt_at <= now)
            .where(~live_same_number)
            .order_by(leads.c.next_attempt_at, leads.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=leads)
        )
        if places is not None:
            stmt = stmt.where(tuple_(leads.c.zones, leads.c.states).in_(places.places_to_read))
        return list(await conn.execute(stmt))

    async def _recent_calls(
        self, conn: AsyncConnection, numbers: Iterable[str], since: datetime
    ) -> dict[str, list[RecentCall]]:
        """When each of `numbers` was called since `since`, and by which campaign (calls placed
        or tried: an attempt whose create proved no call was made does not count)."""
        numbers = list(numbers)
        if not numbers:
            return {}
        rows = await conn.execute(
            select(attempts.c.to_number, attempts.c.created_at, campaigns.c.name)
            .select_from(attempts.join(campaigns, campaigns.c.id == attempts.c.campaign_id))
            .where(attempts.c.to_number.in_(numbers))
            .where(attempts.c.created_at > since)
            .where(attempts.c.state != AttemptState.NOT_PLACED)
        )
        found: dict[str, list[RecentCall]] = {}
        for number, created_at, campaign in rows:
            instant = aware(created_at)
            assert instant is not None
            found.setdefault(number, []).append(RecentCall(instant, campaign))
        return found

    async def _pool_as_of(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        plan: CallerIdPlan | None,
        now: datetime,
    ) -> list[PoolNumber] | None:
        """The campaign's from-numbers as a claim chooses among them: which are retired, and
        how many calls each made in the last day in any campaign (its oldest and latest); None
        for a campaign without a pool. Read at every claim, ceiling or not: the pool spreads
        its calls by these counts."""
        if plan is None:
            return None
        if plan.ceiling is not None:  # ceilings count every campaign's calls: one at a time
            await self.lock_caller_ids(conn)
        retired = set(
            await conn.scalars(
                select(retired_numbers.c.number).where(retired_numbers.c.campaign_id == campaign_id)
            )
        )
        rows = await conn.execute(
            select(
                attempts.c.from_number,
                func.count(),
                func.min(attempts.c.created_at),
                func.max(attempts.c.created_at),
            )
            .where(attempts.c.from_number.in_([p.number for p in plan.pool]))
            .where(attempts.c.created_at > now - DAILY_WINDOW)
            .where(attempts.c.state != AttemptState.NOT_PLACED)
            .group_by(attempts.c.from_number)
        )
        counts = {
            number: (int(n), aware(oldest), aware(latest)) for number, n, oldest, latest in rows
        }
        pool = []
        for p in plan.pool:
            calls, oldest, latest = counts.get(p.number, (0, None, None))
            pool.append(
                replace(
                    p,
                    calls_last_day=calls,
                    oldest_call_at=oldest,
                    last_call_at=latest,
                    retired=p.number in retired,
                )
            )
        return pool

    async def _write_skips(
        self, conn: AsyncConnection, skipped: dict[str, list[int]], now: datetime
    ) -> None:
        for reason, ids in skipped.items():
            result = await conn.execute(
                leads.update()
                .where(leads.c.id.in_(ids))
                .values(state=LeadState.SKIPPED, skip_reason=reason, updated_at=now)
                .returning(leads.c.campaign_id, leads.c.id)
            )
            await write_leads_finished(conn, [(int(c), int(i)) for c, i in result], now)

    async def _write_deferrals(
        self, conn: AsyncConnection, deferred: list[tuple[int, datetime, str]], now: datetime
    ) -> None:
        for lead_id, until, reason in deferred:
            await conn.execute(
                leads.update()
                .where(leads.c.id == lead_id)
                .values(next_attempt_at=until, wait_reason=reason, updated_at=now)
            )

    async def _write_claims(
        self,
        conn: AsyncConnection,
        worker_id: str,
        claimed: list[Attempt],
        now: datetime,
        lease_seconds: float,
    ) -> None:
        lease = timedelta(seconds=lease_seconds)
        await conn.execute(
            attempts.insert(),
            [
                {
                    "id": a.attempt_id,
                    "lead_id": a.lead_id,
                    "campaign_id": a.campaign_id,
                    "number": a.number,
                    "to_number": a.to_number,
                    "from_number": a.from_number,
                    "state": AttemptState.DIALING,
                    "created_at": now,
                    "claimed_by": worker_id,
                    # the lease lasts until well after the slot the request goes out at
                    "lease_expires_at": max(now, a.send_at or now) + lease,
                }
                for a in claimed
            ],
        )
        await conn.execute(
            leads.update()
            .where(leads.c.id == bindparam("lid"))
            .values(
                state=LeadState.DIALING,
                attempts=leads.c.attempts + 1,
                last_attempt_id=bindparam("aid"),
                from_number=bindparam("fid"),
                wait_reason=None,
                updated_at=now,
            ),
            [{"lid": a.lead_id, "aid": a.attempt_id, "fid": a.from_number} for a in claimed],
        )


def _due_lead(row: Any) -> DueLead:
    return DueLead(
        lead_id=row.id,
        to_number=row.to_number,
        place=Place(row.zones, row.states),
        on_do_not_call_list=bool(row.suppressed),
        has_consent=row.consent_at is not None,
        removed=row.removed_at is not None,
        from_number=row.from_number,
    )
