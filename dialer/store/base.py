"""What every part of the store shares: the engine, the database's clock, transactions, the
per-campaign lock, the fence on a claim, and the two cancellation helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialer.domain.states import (
    DUE_LEAD_STATES,
    LIVE_ATTEMPT_STATES,
    AttemptState,
    CampaignStatus,
    LeadState,
    SkipReason,
)
from dialer.store.availability import DEFAULT_OUTAGE_SECONDS, Availability
from dialer.store.errors import shown_url
from dialer.store.outbox_writes import wants_lead_finished, write_leads_finished
from dialer.store.schema import attempts, campaigns, leads, retired_numbers

_CAMPAIGN_LOCK = 0x6469  # advisory lock class for per-campaign claim serialization


async def count_rows(conn: AsyncConnection, table: Any, *conditions: Any) -> int:
    """Rows of `table` matching every condition."""
    stmt = select(func.count()).select_from(table).where(*conditions)
    return int((await conn.execute(stmt)).scalar_one())


def aware(value: object) -> datetime | None:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def claim_fence(
    attempt_id: str, worker_id: str, states: tuple[AttemptState, ...]
) -> tuple[ColumnElement[bool], ...]:
    """The attempt, still held by this worker, still in one of `states`. Every write after a
    request is fenced so: a process that lost its lease writes nothing."""
    return (
        attempts.c.id == attempt_id,
        attempts.c.claimed_by == worker_id,
        attempts.c.state.in_(states),
    )


class StoreBase:
    """The engine and the helpers the store's parts share. Create a Store with `open_store`.
    Verbs marked `rides_out_outages` wait out the database going away (availability.py)."""

    def __init__(
        self, engine: AsyncEngine, *, outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        where = shown_url(engine.url.render_as_string(hide_password=False))
        self.availability = Availability(self._ping_once, where, outage_seconds)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def now(self, conn: AsyncConnection | None = None) -> datetime:
        """The database's clock on Postgres (workers with skewed clocks agree); else ours.
        Inside a transaction, pass its connection."""
        if not self.is_postgres:
            return datetime.now(UTC)
        if conn is None:
            return await self.availability.run(self._own_now)
        value = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    async def _own_now(self) -> datetime:
        async with self.engine.connect() as conn:
            return await self.now(conn)

    async def _ping_once(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def ping(self) -> None:
        """Raise unless the store answers now (never waits out an outage)."""
        await self._ping_once()

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.is_postgres else sqlite_insert(table)

    async def _retire(
        self, conn: AsyncConnection, campaign_id: int, number: str, reason: str, now: datetime
    ) -> bool:
        """The campaign stops dialing from `number`: its waiting leads lose it as their sticky
        from-number (their next claim gives them a usable one). False when it was retired
        already."""
        result = await conn.execute(
            self._insert(retired_numbers)
            .values(campaign_id=campaign_id, number=number, reason=reason, retired_at=now)
            .on_conflict_do_nothing()
        )
        if not result.rowcount:
            return False
        await conn.execute(
            leads.update()
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.from_number == number)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .values(from_number=None)
        )
        return True

    async def lock_caller_ids(self, conn: AsyncConnection) -> None:
        """Serialize claims that count calls per from-number across campaigns (Postgres; on
        SQLite every writer is serialized already)."""
        if self.is_postgres:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _CAMPAIGN_LOCK, "b": -1}
            )

    async def lock_campaign(self, conn: AsyncConnection, campaign_id: int) -> None:
        """Serialize this transaction with every other claim of the campaign (Postgres; on
        SQLite, BEGIN IMMEDIATE already serializes all writers)."""
        if self.is_postgres:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"),
                {"a": _CAMPAIGN_LOCK, "b": campaign_id},
            )

    async def _live_count(self, conn: AsyncConnection, campaign_id: int) -> int:
        return await count_rows(
            conn,
            attempts,
            attempts.c.campaign_id == campaign_id,
            attempts.c.state.in_(LIVE_ATTEMPT_STATES),
        )

    async def _skip_if_cancelled(
        self, conn: AsyncConnection, lead_id: int, now: datetime, *, events: bool = True
    ) -> None:
        """A lead due again whose campaign was cancelled is not dialed again.

        Read under the campaign's lock, which `cancel` holds too: a cancel committing at the
        same moment either runs first (and this sees it) or after (and it finds this lead due
        and skips it). Read without the lock, the lead could stay waiting in a cancelled
        campaign."""
        lead = select(leads.c.campaign_id).where(leads.c.id == lead_id)
        campaign_id = int((await conn.execute(lead)).scalar_one())
        await self.lock_campaign(conn, campaign_id)
        status = await conn.scalar(select(campaigns.c.status).where(campaigns.c.id == campaign_id))
        if status == CampaignStatus.CANCELLED:
            await self._skip_as_cancelled(
                conn, campaign_id, leads.c.id == lead_id, now, events=events
            )

    async def _skip_as_cancelled(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        which: Any,
        now: datetime,
        *,
        events: bool = True,
    ) -> int:
        """Leads of the campaign matching `which` that still wait end `skipped`: it was
        cancelled. Each gets its lead_finished event if the campaign's results_webhook asks
        (unless `events` is False: a settle writes its lead's own, after its attempt's)."""
        skip = (
            leads.update()
            .where(leads.c.campaign_id == campaign_id)
            .where(which)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .values(
                state=LeadState.SKIPPED,
                skip_reason=SkipReason.CAMPAIGN_CANCELLED,
                updated_at=now,
            )
        )
        if not events or not await wants_lead_finished(conn, campaign_id):  # no ids back
            return int((await conn.execute(skip)).rowcount)
        result = await conn.execute(skip.returning(leads.c.campaign_id, leads.c.id))
        skipped = [(int(c), int(lead)) for c, lead in result]
        await write_leads_finished(conn, skipped, now)
        return len(skipped)
