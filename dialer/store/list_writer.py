"""One load of a campaign's list, as one transaction the store keeps to itself: the campaign's
lock first (the order every claim and settle keeps: campaign lock, leads, campaign row), the
leads in batches — inserted, or edited by the list-edit rules when the campaign has leads
already —, then what the whole list decides (leads it no longer names, suppressions, the
numbers other campaigns dialed), the campaign's own row last. Callers never see a connection."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings
from dialer.domain.list_edits import RowEdit
from dialer.store.campaigns import CampaignQueries
from dialer.store.loading import LeadRecord, LoadingQueries
from dialer.store.reloading import ReloadQueries

EXAMPLES = 3  # lead_ids a load report names per kind of edit worth a look


class CampaignNotFoundError(Exception):
    """The load adds leads to a campaign the store does not have."""


@dataclass
class ListTotals:
    """What a load wrote, for its report."""

    edits: Counter[RowEdit] = field(default_factory=Counter)
    examples: dict[RowEdit, list[str]] = field(default_factory=dict)  # lead_ids, a few
    removed: int = 0  # leads the whole list no longer names (not re-keyed ones)
    rekeyed: int = 0  # duplicates of a lead the list no longer names: a lead_id that changed
    suppressed: int = 0
    dialed_elsewhere: dict[str, int] = field(default_factory=dict)

    def note(self, kind: RowEdit, lead_id: str) -> None:
        found = self.examples.setdefault(kind, [])
        if len(found) < EXAMPLES:
            found.append(lead_id)


class ListWriter:
    """The open load (see `ListWriterQueries.list_writer`)."""

    def __init__(
        self, store: ListWriterQueries, conn: AsyncConnection, campaign_id: int, now: datetime
    ) -> None:
        self._store = store
        self._conn = conn
        self.campaign_id = campaign_id
        self._now = now
        self._reload = False
        self._whole_list = True
        self._duplicates: list[tuple[str, str]] = []
        self.totals = ListTotals()

    @property
    def overlaps_writes(self) -> bool:
        """Whether the database works in a process of its own (Postgres): the next batch may be
        read while it writes the last one (SQLite works inside this one: they take turns)."""
        return self._store.is_postgres

    async def _start(self, whole_list: bool) -> None:
        self._whole_list = whole_list
        self._reload = await self._store.has_leads(self._conn, self.campaign_id)
        if self._reload:
            await self._store.start_reload(self._conn)

    async def write(self, batch: list[LeadRecord]) -> None:
        """One batch (each key at most once in the load)."""
        if self._reload:
            counted, batch, found, noted = await self._store.reload_batch(
                self._conn, self.campaign_id, batch, self._now, whole_list=self._whole_list
            )
            self.totals.edits.update(counted)
            self._duplicates.extend(found)
            for kind, lead_id in noted:
                self.totals.note(kind, lead_id)
        else:
            self.totals.edits[RowEdit.ADDED] += len(batch)
        await self._store.insert_leads(
            self._conn, batch, self._now, campaign_is_new=not self._reload
        )

    async def finish(
        self,
        suppressed_by: dict[str, str],
        places: Iterable[Place],
        settings: CampaignSettings | None,
        source_path: str | None,
        digest: str | None,
    ) -> ListTotals:
        """After the last batch: duplicates skipped, leads the whole list no longer names not
        dialed again, suppressions applied, the places and the campaign's row written."""
        conn, campaign_id, now, totals = self._conn, self.campaign_id, self._now, self.totals
        if self._reload:
            await self._store.skip_duplicates(conn, campaign_id, self._duplicates, now)
            if self._whole_list:
                removed, totals.rekeyed = await self._store.finish_reload(
                    conn, campaign_id, self._duplicates, now
                )
                totals.removed = max(0, removed - totals.rekeyed)
        totals.suppressed = await self._store.skip_suppressed(conn, campaign_id, suppressed_by, now)
        totals.dialed_elsewhere = await self._store.dialed_elsewhere(conn, campaign_id, now)
        await self._store.add_places(conn, campaign_id, places)
        if settings is not None:
            await self._store.upsert_campaign(conn, settings, source_path, digest)
        return totals


class ListWriterQueries(CampaignQueries, LoadingQueries, ReloadQueries):
    @asynccontextmanager
    async def list_writer(
        self,
        name: str,
        settings: CampaignSettings | None,
        *,
        whole_list: bool,
        source_path: str | None = None,
        digest: str | None = None,
    ) -> AsyncIterator[ListWriter]:
        """Open one load of campaign `name`'s list, in one transaction (rolled back if the
        block raises): created with `settings` if new, else it must exist
        (CampaignNotFoundError). `whole_list`: the leads are the campaign's whole list (a
        file); else they are added to it (the HTTP API)."""
        async with self.transaction() as conn:
            campaign_id = await self.lock_campaign_named(conn, name)
            if campaign_id is None:  # new (or made by a load that committed meanwhile)
                if settings is None:
                    raise CampaignNotFoundError(name)
                campaign_id = await self.upsert_campaign(conn, settings, source_path, digest)
                await self.lock_campaign(conn, campaign_id)
            writer = ListWriter(self, conn, campaign_id, await self.now(conn))
            await writer._start(whole_list)
            yield writer
