"""The results outbox read and worked: events claimed under a lease, one lead's events in
order, then marked delivered, tried again later, or dead; and how a campaign's stand. They are
written with the change each reports (dialer.store.outbox_writes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from dialer.domain.results_push import next_try_at
from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase, aware
from dialer.store.outbox_writes import DEAD, DELIVERED, PENDING
from dialer.store.schema import campaigns, results_outbox


@dataclass(frozen=True)
class OutboxEvent:
    """One event claimed for delivery, with where it goes."""

    id: int
    event_id: str
    kind: str
    campaign: str
    lead_id: int
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    webhook: dict[str, Any]  # the campaign's results_webhook setting (url, secret_env, events)


@dataclass(frozen=True)
class ResultsDelivery:
    """How a campaign's pushed results stand."""

    pending: int = 0
    delivered: int = 0
    dead: int = 0
    oldest_pending_at: datetime | None = None
    last_error: str | None = None


class OutboxQueries(StoreBase):
    @rides_out_outages
    async def claim_results(
        self, worker_id: str, limit: int, lease_seconds: float, campaign_id: int | None = None
    ) -> list[OutboxEvent]:
        """Up to `limit` due events, leased to `worker_id`: only each lead's first undelivered
        one (the next waits until it is delivered or dead), oldest due first."""
        earlier = results_outbox.alias("earlier")
        blocked = exists().where(
            earlier.c.lead_id == results_outbox.c.lead_id,
            earlier.c.id < results_outbox.c.id,
            earlier.c.state == PENDING,
        )
        async with self.transaction() as conn:
            now = await self.now(conn)
            stmt = (
                select(results_outbox.c.id)
                .where(results_outbox.c.state == PENDING)
                .where(results_outbox.c.next_try_at <= now)
                .where(
                    or_(
                        results_outbox.c.lease_expires_at.is_(None),
                        results_outbox.c.lease_expires_at <= now,
                    )
                )
                .where(~blocked)
                .order_by(results_outbox.c.next_try_at, results_outbox.c.id)
                .limit(limit)
            )
            if campaign_id is not None:
                stmt = stmt.where(results_outbox.c.campaign_id == campaign_id)
            if self.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True, of=results_outbox)
            ids = [int(r[0]) for r in await conn.execute(stmt)]
            if not ids:
                return []
            await conn.execute(
                results_outbox.update()
                .where(results_outbox.c.id.in_(ids))
                .values(
                    leased_by=worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds)
                )
            )
            rows = await conn.execute(
                select(
                    results_outbox,
                    campaigns.c.name,
                    campaigns.c.config["results_webhook"].label("webhook"),
                )
                .join(campaigns, campaigns.c.id == results_outbox.c.campaign_id)
                .where(results_outbox.c.id.in_(ids))
                .order_by(results_outbox.c.id)
            )
            return [
                OutboxEvent(
                    id=r.id,
                    event_id=r.event_id,
                    kind=r.kind,
                    campaign=r.name,
                    lead_id=r.lead_id,
                    payload=dict(r.payload),
                    created_at=aware(r.created_at) or now,
                    attempts=r.attempts,
                    webhook=dict(r.webhook or {}),
                )
                for r in rows
            ]

    @rides_out_outages
    async def release_results(self, worker_id: str) -> None:
        """Events `worker_id` claimed but did not finish delivering are free for anyone now."""
        async with self.transaction() as conn:
            await conn.execute(
                results_outbox.update()
                .where(results_outbox.c.leased_by == worker_id)
                .where(results_outbox.c.state == PENDING)
                .values(leased_by=None, lease_expires_at=None)
            )

    @rides_out_outages
    async def record_result_delivered(self, event: OutboxEvent) -> None:
        async with self.transaction() as conn:
            now = await self.now(conn)
            await conn.execute(
                results_outbox.update()
                .where(results_outbox.c.id == event.id)
                .where(results_outbox.c.state == PENDING)
                .values(
                    state=DELIVERED,
                    attempts=results_outbox.c.attempts + 1,
                    delivered_at=now,
                    leased_by=None,
                    lease_expires_at=None,
                )
            )

    @rides_out_outages
    async def record_result_failed(self, event: OutboxEvent, error: str, jitter: float) -> bool:
        """A delivery failed: try again after the backoff, or — past its 24 hours — the event
        is dead. True when it just died."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            failures = event.attempts + 1
            at = next_try_at(event.created_at, now, failures, jitter)
            values: dict[str, Any] = {
                "attempts": failures,
                "last_error": error[:500],
                "leased_by": None,
                "lease_expires_at": None,
            }
            values.update({"state": DEAD} if at is None else {"next_try_at": at})
            result = await conn.execute(
                results_outbox.update()
                .where(results_outbox.c.id == event.id)
                .where(results_outbox.c.state == PENDING)
                .values(**values)
            )
            return at is None and bool(result.rowcount)

    @rides_out_outages
    async def results_delivery(self, campaign_ids: Sequence[int]) -> dict[int, ResultsDelivery]:
        """Each campaign's pushed results by delivery state, its oldest pending event's time
        and the latest error of an event not delivered (campaigns with no event: absent)."""
        if not campaign_ids:
            return {}
        out: dict[int, dict[str, Any]] = {}
        async with self.engine.connect() as conn:
            counts = await conn.execute(
                select(
                    results_outbox.c.campaign_id,
                    results_outbox.c.state,
                    func.count(),
                    func.min(results_outbox.c.created_at),
                )
                .where(results_outbox.c.campaign_id.in_(list(campaign_ids)))
                .group_by(results_outbox.c.campaign_id, results_outbox.c.state)
            )
            for cid, state, n, oldest in counts:
                entry = out.setdefault(int(cid), {})
                entry[str(state)] = int(n)
                if state == PENDING:
                    entry["oldest_pending_at"] = aware(oldest)
            for cid, entry in out.items():
                latest = select(func.max(results_outbox.c.id)).where(  # of one undelivered
                    and_(
                        results_outbox.c.campaign_id == cid,
                        results_outbox.c.state.in_((PENDING, DEAD)),
                        results_outbox.c.last_error.is_not(None),
                    )
                )
                error = await conn.scalar(
                    select(results_outbox.c.last_error).where(
                        results_outbox.c.id == latest.scalar_subquery()
                    )
                )
                entry["last_error"] = error
        return {cid: ResultsDelivery(**entry) for cid, entry in out.items()}
