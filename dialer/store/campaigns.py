"""Campaign rows: create or refresh, read, change status, cancel, hold after a 429."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings
from dialer.domain.states import (
    CANCELLED_BY_A_PERSON,
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
    async def set_status(
        self, campaign_id: int, status: CampaignStatus, reason: str | None = None
    ) -> None:
        async with self.transaction() as conn:
            await self._change_status(conn, campaign_id, status, reason, await self.now(conn))

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
            finished = CampaignStatus.FINISHED
            return await self._change_status(
                conn, campaign_id, finished, None, await self.now(conn), only_if_active=True
            )

    @rides_out_outages
    async def reopen(self, campaign_id: int) -> None:
        """Active again (resumed, or finished with new leads): the failure-spike breaker
        counts calls from now on."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            active = CampaignStatus.ACTIVE
            await self._change_status(conn, campaign_id, active, None, now, breaker_since=now)

    @rides_out_outages
    async def pause_if_active(self, campaign_id: int, reason: str) -> bool:
        """Pause an active campaign with `reason` (by itself: a failure spike). False when it
        was not active (paused or cancelled meanwhile)."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            paused = CampaignStatus.PAUSED
            return await self._change_status(
                conn, campaign_id, paused, reason, now, only_if_active=True
            )

    @rides_out_outages
    async def retire_number(self, campaign_id: int, number: str, reason: str) -> bool:
        """The campaign stops dialing from `number` (its leads get another one at their next
        claim). False when it was retired already."""
        async with self.transaction() as conn:
            return await self._retire(conn, campaign_id, number, reason, await self.now(conn))

    @rides_out_outages
    async def cancel(self, campaign_id: int) -> int:
        """Cancel: no new dial; every lead still waiting ends `skipped`. Calls in progress are
        followed to their end by whoever holds them. Returns how many leads were skipped."""
        async with self.transaction() as conn:
            await self.lock_campaign(conn, campaign_id)  # no claim interleaves with this
            now = await self.now(conn)
            cancelled = CampaignStatus.CANCELLED
            await self._change_status(conn, campaign_id, cancelled, CANCELLED_BY_A_PERSON, now)
            return await self._skip_as_cancelled(conn, leads.c.campaign_id == campaign_id, now)

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
