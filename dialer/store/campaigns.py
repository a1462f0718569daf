"""Campaign rows: create or refresh, read, change status, cancel, hold after a 429."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings
from dialer.domain.lifecycle import Transition, cancelled, finished
from dialer.domain.states import (
    LIVE_ATTEMPT_STATES,
    UNFINISHED_LEAD_STATES,
    CampaignStatus,
)
from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase
from dialer.store.records import CampaignRow
from dialer.store.schema import attempts, campaigns, leads

_CAMPAIGN_COLUMNS = (
    campaigns.c.id,
    campaigns.c.name,
    campaigns.c.status,
    campaigns.c.status_reason,
    campaigns.c.config,
)


def _campaign_row(row: Any) -> CampaignRow:
    return CampaignRow(row.id, row.name, CampaignStatus(row.status), row.status_reason, row.config)


async def write_transition(
    conn: AsyncConnection, campaign_id: int, transition: Transition, now: datetime
) -> bool:
    """Write a status change inside a transaction: only from the statuses it applies from
    (a campaign paused or cancelled meanwhile keeps its status). Every status write of the
    store is this one. Returns whether it was written."""
    values: dict[str, Any] = {
        "status": transition.status,
        "status_reason": transition.reason,
        "updated_at": now,
    }
    if transition.restarts_breaker:
        values["breaker_since"] = now
    result = await conn.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id)
        .where(campaigns.c.status.in_(sorted(transition.from_statuses)))
        .values(**values)
    )
    return bool(result.rowcount)


class CampaignQueries(StoreBase):
    async def upsert_campaign(
        self,
        conn: AsyncConnection,
        settings: CampaignSettings,
        source_path: str | None,
        source_digest: str | None = None,
    ) -> int:
        """Create the campaign or refresh its settings; returns its id."""
        now = await self.now(conn)
        config = settings.model_dump(mode="json", exclude={"leads"})  # the file's leads: not kept
        stmt = self._insert(campaigns).values(
            name=settings.name,
            config=config,
            source_path=source_path,
            source_digest=source_digest,
            status=CampaignStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[campaigns.c.name],
            set_={
                "config": config,
                "source_path": source_path,
                "source_digest": source_digest,
                "updated_at": now,
            },
        ).returning(campaigns.c.id)
        return int((await conn.execute(stmt)).scalar_one())

    async def lock_campaign_named(self, conn: AsyncConnection, name: str) -> int | None:
        """Take the campaign's lock (the one every claim takes first) and return its id; None
        when no campaign has that name. A load takes it before touching any row, so loads and
        claims meet in one order: campaign lock, then leads, then the campaign's row."""
        found = await conn.scalar(select(campaigns.c.id).where(campaigns.c.name == name))
        if found is None:
            return None
        await self.lock_campaign(conn, int(found))
        return int(found)

    async def add_places(
        self, conn: AsyncConnection, campaign_id: int, places: Iterable[Place]
    ) -> None:
        """Remember the places of the leads just loaded, beside those known already."""
        known = await conn.scalar(select(campaigns.c.places).where(campaigns.c.id == campaign_id))
        union = {Place(*p) for p in known or []} | set(places)
        await conn.execute(
            campaigns.update()
            .where(campaigns.c.id == campaign_id)
            .values(places=[list(p) for p in sorted(union)])
        )

    @rides_out_outages
    async def known_places(self, campaign_id: int) -> list[Place] | None:
        """Every place the campaign's leads were loaded with; None when unknown (leads loaded
        by an older version)."""
        async with self.engine.connect() as conn:
            known = await conn.scalar(
                select(campaigns.c.places).where(campaigns.c.id == campaign_id)
            )
        return None if known is None else [Place(*p) for p in known]

    @rides_out_outages
    async def source_digest(self, name: str) -> tuple[int, str | None] | None:
        """The campaign's id and the digest of the files it was last loaded from."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(campaigns.c.id, campaigns.c.source_digest).where(
                        campaigns.c.name == name
                    )
                )
            ).one_or_none()
        return None if row is None else (int(row.id), row.source_digest)

    async def campaign_id(self, name: str) -> int | None:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(campaigns.c.id).where(campaigns.c.name == name))
            return int(found) if found is not None else None

    @rides_out_outages
    async def campaign(self, name_or_id: str | int) -> CampaignRow | None:
        column = campaigns.c.id if isinstance(name_or_id, int) else campaigns.c.name
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(*_CAMPAIGN_COLUMNS).where(column == name_or_id))
            ).one_or_none()
        return None if row is None else _campaign_row(row)

    @rides_out_outages
    async def campaigns(self) -> list[CampaignRow]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(*_CAMPAIGN_COLUMNS).order_by(campaigns.c.id))
            return [_campaign_row(r) for r in rows]

    @rides_out_outages
    async def campaigns_to_serve(self) -> list[CampaignRow]:
        """What a worker serves: active campaigns, and any campaign with a live attempt whose
        lease expired (a dead worker's calls must still be followed to their end)."""
        async with self.engine.connect() as conn:
            now = await self.now(conn)
            orphaned = exists().where(
                (attempts.c.campaign_id == campaigns.c.id)
                & attempts.c.state.in_(LIVE_ATTEMPT_STATES)
                & (attempts.c.lease_expires_at < now)
            )
            rows = await conn.execute(
                select(*_CAMPAIGN_COLUMNS)
                .where((campaigns.c.status == CampaignStatus.ACTIVE) | orphaned)
                .order_by(campaigns.c.id)
            )
            return [_campaign_row(r) for r in rows]

    @rides_out_outages
    async def change_status(self, campaign_id: int, transition: Transition) -> bool:
        """The one verb that changes a campaign's status (dialer.domain.lifecycle decides how);
        False when the campaign was not in a status the transition applies from."""
        async with self.transaction() as conn:
            return await write_transition(conn, campaign_id, transition, await self.now(conn))

    @rides_out_outages
    async def finish_if_done(self, campaign_id: int) -> bool:
        """Mark an active campaign finished, unless it has a lead still to finish: under the
        campaign's lock, so a load adding leads at this moment is either seen (not finished)
        or runs after (and opens it again)."""
        async with self.transaction() as conn:
            await self.lock_campaign(conn, campaign_id)
            unfinished = await conn.scalar(
                select(leads.c.id)
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state.in_(UNFINISHED_LEAD_STATES))
                .limit(1)
            )
            if unfinished is not None:
                return False
            return await write_transition(conn, campaign_id, finished(), await self.now(conn))

    @rides_out_outages
    async def cancel(self, campaign_id: int) -> int:
        """Cancel: no new dial; every lead still waiting ends `skipped`. Calls in progress are
        followed to their end by whoever holds them. Returns how many leads were skipped."""
        async with self.transaction() as conn:
            await self.lock_campaign(conn, campaign_id)  # no claim interleaves with this
            now = await self.now(conn)
            await write_transition(conn, campaign_id, cancelled(), now)
            return await self._skip_as_cancelled(conn, campaign_id, true(), now)

    @rides_out_outages
    async def hold(self, campaign_id: int, seconds: float) -> None:
        """No new dial for this campaign, by any worker, for `seconds` (after a 429)."""
        async with self.transaction() as conn:
            until = await self.now(conn) + timedelta(seconds=seconds)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .where((campaigns.c.hold_until.is_(None)) | (campaigns.c.hold_until < until))
                .values(hold_until=until)
            )

    @rides_out_outages
    async def source_path(self, campaign_id: int) -> str | None:
        """The campaign file it was last loaded from (None: made over the HTTP API)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(campaigns.c.source_path).where(campaigns.c.id == campaign_id)
            )
            return None if found is None else str(found)
