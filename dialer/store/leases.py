"""Leases: a worker's heartbeat on the attempts it holds, their release on a clean stop, and
the takeover of attempts whose worker died (pgqueuer-style: re-picked once the lease lapses)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import func, select

from dialer.domain.states import LIVE_ATTEMPT_STATES, AttemptState
from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase
from dialer.store.export_rows import RECORDED_VARIANT
from dialer.store.records import Attempt, attempt_for_lead
from dialer.store.schema import attempts, leads


class LeaseQueries(StoreBase):
    @rides_out_outages
    async def renew_leases(
        self, worker_id: str, attempt_ids: Collection[str], lease_seconds: float
    ) -> int:
        """One batched heartbeat for the live attempts this worker works on. Only those: an
        attempt this worker holds in the store but lost track of (a claim whose commit it
        never heard of, in a database outage) lets its lease run out, and is taken over."""
        if not attempt_ids:
            return 0
        async with self.transaction() as conn:
            now = await self.now(conn)
            result = await conn.execute(
                attempts.update()
                .where(attempts.c.claimed_by == worker_id)
                .where(attempts.c.id.in_(list(attempt_ids)))
                .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
                .where(attempts.c.lease_expires_at < now + timedelta(seconds=lease_seconds))
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
            return int(result.rowcount)

    @rides_out_outages
    async def release_leases(self, worker_id: str) -> None:
        """On a clean stop: let the next run take over our live attempts at once."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            await conn.execute(
                attempts.update()
                .where(attempts.c.claimed_by == worker_id)
                .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
                .values(lease_expires_at=now)
            )

    @rides_out_outages
    async def take_over_expired(
        self, campaign_id: int, worker_id: str, lease_seconds: float, limit: int = 200
    ) -> list[Attempt]:
        """Claim live attempts whose lease expired (their worker died or stopped)."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            expired = (
                select(attempts.c.id)
                .where(attempts.c.campaign_id == campaign_id)
                .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
                .where(attempts.c.lease_expires_at <= now)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = [r.id for r in await conn.execute(expired)]
            if not ids:
                return []
            await conn.execute(
                attempts.update()
                .where(attempts.c.id.in_(ids))
                .values(
                    claimed_by=worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds)
                )
            )
            rows = await conn.execute(
                select(
                    attempts.c.id,
                    attempts.c.lead_id,
                    attempts.c.number,
                    attempts.c.state,
                    attempts.c.call_id,
                    attempts.c.to_number,
                    attempts.c.from_number,
                    attempts.c.created_at,
                    func.coalesce(attempts.c.variant, RECORDED_VARIANT).label("variant"),
                    leads.c.alternates,
                    leads.c.number_index,
                    leads.c.lead_key,
                    leads.c.next_plan,
                    leads.c.zones,
                    leads.c.states,
                    leads.c.dynamic_variables,
                    leads.c.call_metadata,
                )
                .join(leads, leads.c.id == attempts.c.lead_id)
                .where(attempts.c.id.in_(ids))
            )
            return [
                attempt_for_lead(
                    r,
                    campaign_id,
                    attempt_id=r.id,
                    number=r.number,
                    to_number=r.to_number,
                    created_at=r.created_at,
                    state=AttemptState(r.state),
                    call_id=r.call_id,
                    from_number=r.from_number,
                    variant=r.variant,
                )
                for r in rows
            ]
