"""Store: every query the application makes, in one place. Short transactions only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialer.campaign import Campaign
from dialer.leads import Lead
from dialer.store.schema import campaigns, leads


def content_hash(lead: Lead) -> str:
    """A digest of what a row says, so a reload rewrites only rows that changed."""
    payload = json.dumps(
        [lead.to_number, lead.timezone, lead.dynamic_variables, lead.metadata], sort_keys=True
    )
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


class Store:
    """Typed access to the store. Create with `open_store`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

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
        """The database's clock on Postgres (workers with skewed clocks agree); else ours."""
        if not self.is_postgres:
            return datetime.now(UTC)
        if conn is None:
            async with self.engine.connect() as own:
                value = (await own.execute(text("SELECT clock_timestamp()"))).scalar_one()
        else:
            value = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.is_postgres else sqlite_insert(table)

    # -- campaigns -------------------------------------------------------------------------

    async def upsert_campaign(
        self, conn: AsyncConnection, campaign: Campaign, source_path: str | None
    ) -> int:
        """Create the campaign or refresh its settings; returns its id."""
        now = await self.now(conn)
        config = campaign.model_dump(mode="json", exclude={"leads"})
        stmt = self._insert(campaigns).values(
            name=campaign.name,
            config=config,
            source_path=source_path,
            status="active",
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[campaigns.c.name],
            set_={"config": config, "source_path": source_path, "updated_at": now},
        ).returning(campaigns.c.id)
        return int((await conn.execute(stmt)).scalar_one())

    async def campaign_id(self, name: str) -> int | None:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(campaigns.c.id).where(campaigns.c.name == name))
            return int(found) if found is not None else None

    # -- loading ---------------------------------------------------------------------------

    async def insert_leads(
        self, conn: AsyncConnection, campaign_id: int, batch: Iterable[Lead], now: datetime
    ) -> None:
        """Insert new leads; rewrite a known lead only while it has no history."""
        rows = [
            {
                "campaign_id": campaign_id,
                "lead_key": lead.key,
                "to_number": lead.to_number,
                "timezone": lead.timezone,
                "dynamic_variables": lead.dynamic_variables,
                "call_metadata": lead.metadata,
                "content_hash": content_hash(lead),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "source_line": lead.line,
                "created_at": now,
                "updated_at": now,
            }
            for lead in batch
        ]
        if not rows:
            return
        stmt = self._insert(leads)
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[leads.c.campaign_id, leads.c.lead_key],
            set_={
                "to_number": excluded.to_number,
                "timezone": excluded.timezone,
                "dynamic_variables": excluded.dynamic_variables,
                "call_metadata": excluded.call_metadata,
                "content_hash": excluded.content_hash,
                "source_line": excluded.source_line,
                "updated_at": excluded.updated_at,
            },
            where=(leads.c.content_hash != excluded.content_hash)
            & (leads.c.state == "pending")
            & (leads.c.attempts == 0),
        )
        await conn.execute(stmt, rows)

    async def count_leads(self, conn: AsyncConnection, campaign_id: int) -> int:
        stmt = select(func.count()).select_from(leads).where(leads.c.campaign_id == campaign_id)
        return int((await conn.execute(stmt)).scalar_one())
