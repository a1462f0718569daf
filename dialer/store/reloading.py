"""Loading a campaign's list again: each row of the file is compared with the lead the store
has under its key, and the edit the domain decides (dialer.domain.list_edits) is written; leads
the file no longer has are not dialed again; what changed is counted for the load report.

The keys of the file go into a temporary table as they are read, so the leads it no longer has
are found with one anti-join at the end, never a set of a million keys in memory."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.list_edits import (
    NOTED_EDITS,
    REMOVED_FROM_LIST,
    Edit,
    KnownLead,
    Row,
    RowEdit,
    duplicate_of,
    edit_for,
)
from dialer.domain.states import DUE_LEAD_STATES, AttemptState, LeadState
from dialer.store.base import StoreBase
from dialer.store.loading import LeadRecord
from dialer.store.outbox_writes import write_leads_finished
from dialer.store.schema import attempts, campaigns, leads

DIALED_ELSEWHERE_WINDOW = timedelta(days=30)


def _pg_keys_table() -> str:
    return (
        "CREATE TEMPORARY TABLE IF NOT EXISTS load_keys (lead_key text PRIMARY KEY) ON COMMIT DROP"
    )


_SQLITE_KEYS_TABLE = "CREATE TEMPORARY TABLE IF NOT EXISTS load_keys (lead_key TEXT PRIMARY KEY)"
_NOT_IN_FILE = "lead_key NOT IN (SELECT lead_key FROM load_keys)"


class ReloadQueries(StoreBase):
    async def start_reload(self, conn: AsyncConnection) -> None:
        """Before the first batch of a load of a campaign that has leads already."""
        if self.is_postgres:
            await conn.execute(text(_pg_keys_table()))
        else:
            await conn.execute(text(_SQLITE_KEYS_TABLE))
            await conn.execute(text("DELETE FROM load_keys"))

    async def reload_batch(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        records: Sequence[LeadRecord],
        now: datetime,
        *,
        whole_list: bool = True,
    ) -> tuple[
        Counter[RowEdit], list[LeadRecord], list[tuple[str, str]], list[tuple[RowEdit, str]]
    ]:
        """Compare one batch of the file with the store and write every edit but the plain
        inserts and rewrites, which are returned for the bulk writer (dialer.store.loading).
        Returns the edits counted, those records, (key, duplicate of) pairs of rows to skip,
        and (edit, key) of the rows a report names (dialer.domain.list_edits.NOTED_EDITS).

        Not `whole_list` (leads added to the list, not the list itself): a number another
        lead of the campaign holds, dialed or not, makes a duplicate too — a file would name
        both leads and be refused, but an addition cannot see the rest of the list."""
        await self._remember_keys(conn, [r.lead_key for r in records])
        known = await self._known(conn, campaign_id, [r.lead_key for r in records])
        asked = [
            r.to_number
            for r in records
            if (k := known.get(r.lead_key)) is None or k[0].content_hash != r.content_hash
        ]
        dialed = await self._dialed_under(conn, campaign_id, asked)
        if not whole_list:
            for number, keys in (await self._held_under(conn, campaign_id, asked)).items():
                dialed.setdefault(number, set()).update(keys)
        counts: Counter[RowEdit] = Counter()
        to_write: list[LeadRecord] = []
        duplicates: list[tuple[str, str]] = []
        noted: list[tuple[RowEdit, str]] = []
        for record in records:
            found = known.get(record.lead_key)
            lead, lead_id = (None, None) if found is None else found
            under = next(
                (k for k in dialed.get(record.to_number, ()) if k != record.lead_key), None
            )
            edit = edit_for(Row(record.to_number, record.content_hash), lead, under)
            counts[edit.kind] += 1
            if edit.kind in NOTED_EDITS:
                noted.append((edit.kind, record.lead_key))
            if edit.kind is RowEdit.DUPLICATE and edit.duplicate_of is not None:
                duplicates.append((record.lead_key, edit.duplicate_of))
            if lead is None or lead_id is None:
                to_write.append(record)  # a new row (a duplicate is skipped once written)
                continue
            if lead.removed:
                await self._restore(conn, lead_id, now)
            if not lead.has_history and edit.kind in (RowEdit.UPDATED, RowEdit.DUPLICATE):
                to_write.append(record)  # never dialed: rewritten as the file says
            elif edit.kind not in (RowEdit.UNCHANGED, RowEdit.RESTORED):
                await self._apply(conn, lead_id, lead, record, edit, now)
        return counts, to_write, duplicates, noted

    async def skip_duplicates(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        duplicates: Iterable[tuple[str, str]],
        now: datetime,
    ) -> None:
        """Rows just inserted whose number was dialed under another lead_id end skipped."""
        for key, other in duplicates:
            skipped = await conn.execute(
                leads.update()
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.lead_key == key)
                .where(leads.c.state == LeadState.PENDING)
                .where(leads.c.attempts == 0)
                .values(state=LeadState.SKIPPED, skip_reason=duplicate_of(other), updated_at=now)
                .returning(leads.c.campaign_id, leads.c.id)
            )
            await write_leads_finished(conn, [(int(c), int(i)) for c, i in skipped], now)

    async def finish_reload(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        duplicates: Sequence[tuple[str, str]],
        now: datetime,
    ) -> tuple[int, int]:
        """After the last batch: leads the file no longer has are not dialed again (waiting ones
        end skipped now; a live one when its call ends). Returns (removed, re-keyed): how many
        leads the file no longer has, and how many duplicates are of such a lead."""
        gone = and_(
            leads.c.campaign_id == campaign_id,
            leads.c.removed_at.is_(None),
            text(_NOT_IN_FILE),
        )
        removed = await conn.execute(leads.update().where(gone).values(removed_at=now))
        skipped = await conn.execute(
            leads.update()
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.removed_at == now)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .values(state=LeadState.SKIPPED, skip_reason=REMOVED_FROM_LIST, updated_at=now)
            .returning(leads.c.campaign_id, leads.c.id)
        )
        await write_leads_finished(conn, [(int(c), int(i)) for c, i in skipped], now)
        others = sorted({other for _, other in duplicates})
        present: set[str] = set()
        for start in range(0, len(others), 1000):
            present |= await self._keys_in_file(conn, others[start : start + 1000])
        rekeyed = sum(1 for _, other in duplicates if other not in present)
        if not self.is_postgres:
            await conn.execute(text("DELETE FROM load_keys"))
        return int(removed.rowcount), rekeyed

    async def dialed_elsewhere(
        self, conn: AsyncConnection, campaign_id: int, now: datetime
    ) -> dict[str, int]:
        """How many of the campaign's waiting leads' numbers each other campaign of the store
        dialed in the last 30 days (for the load report)."""
        since = now - DIALED_ELSEWHERE_WINDOW
        anything = await conn.scalar(
            select(attempts.c.id)
            .where(attempts.c.campaign_id != campaign_id)
            .where(attempts.c.created_at > since)
            .limit(1)
        )
        if anything is None:  # a store with one campaign: nothing to join
            return {}
        rows = await conn.execute(
            select(campaigns.c.name, func.count(func.distinct(leads.c.to_number)))
            .select_from(
                leads.join(attempts, attempts.c.to_number == leads.c.to_number).join(
                    campaigns, campaigns.c.id == attempts.c.campaign_id
                )
            )
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .where(attempts.c.campaign_id != campaign_id)
            .where(attempts.c.created_at > since)
            .where(attempts.c.state != AttemptState.NOT_PLACED)
            .group_by(campaigns.c.name)
        )
        return {name: int(n) for name, n in rows}

    # -- helpers -----------------------------------------------------------------------------

    async def _remember_keys(self, conn: AsyncConnection, keys: list[str]) -> None:
        if self.is_postgres:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table("load_keys", records=[(k,) for k in keys])
        else:
            await conn.execute(
                text("INSERT OR IGNORE INTO load_keys (lead_key) VALUES (:k)"),
                [{"k": k} for k in keys],
            )

    async def _keys_in_file(self, conn: AsyncConnection, keys: list[str]) -> set[str]:
        rows = await conn.execute(
            text(
                "SELECT lead_key FROM load_keys WHERE lead_key IN ("
                + ", ".join(f":k{i}" for i in range(len(keys)))
                + ")"
            ),
            {f"k{i}": key for i, key in enumerate(keys)},
        )
        return {row.lead_key for row in rows}

    async def _known(
        self, conn: AsyncConnection, campaign_id: int, keys: list[str]
    ) -> dict[str, tuple[KnownLead, int]]:
        """The leads the store has under `keys`, as the edits see them, with their ids."""
        rows = list(
            await conn.execute(
                select(
                    leads.c.id,
                    leads.c.lead_key,
                    leads.c.state,
                    leads.c.attempts,
                    leads.c.number_index,
                    leads.c.to_number,
                    leads.c.alternates,
                    leads.c.content_hash,
                    leads.c.removed_at,
                    leads.c.skip_reason,
                )
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.lead_key.in_(keys))
            )
        )
        with_history = [r.id for r in rows if r.attempts > 0 or r.number_index > 0]
        dialed_at: dict[int, set[str]] = {}
        if with_history:
            for lead_id, number in await conn.execute(
                select(attempts.c.lead_id, attempts.c.to_number)
                .where(attempts.c.lead_id.in_(with_history))
                .distinct()
            ):
                dialed_at.setdefault(lead_id, set()).add(number)
        known: dict[str, tuple[KnownLead, int]] = {}
        for r in rows:
            restored = r.removed_at is not None and r.skip_reason == REMOVED_FROM_LIST
            numbers = {r.to_number, *(a["to_number"] for a in r.alternates or [])}
            known[r.lead_key] = (
                KnownLead(
                    state=LeadState.PENDING if restored else LeadState(r.state),
                    attempts=r.attempts,
                    number_index=r.number_index,
                    content_hash=r.content_hash,
                    numbers=frozenset(numbers | dialed_at.get(r.id, set())),
                    removed=r.removed_at is not None,
                ),
                r.id,
            )
        return known

    async def _dialed_under(
        self, conn: AsyncConnection, campaign_id: int, numbers: list[str]
    ) -> dict[str, set[str]]:
        """For each of `numbers` dialed in this campaign: the lead_ids it was dialed under."""
        found: dict[str, set[str]] = {}
        for start in range(0, len(numbers), 1000):
            rows = await conn.execute(
                select(attempts.c.to_number, leads.c.lead_key)
                .select_from(attempts.join(leads, leads.c.id == attempts.c.lead_id))
                .where(attempts.c.campaign_id == campaign_id)
                .where(attempts.c.to_number.in_(numbers[start : start + 1000]))
                .where(attempts.c.state != AttemptState.NOT_PLACED)
                .distinct()
            )
            for number, key in rows:
                found.setdefault(number, set()).add(key)
        return found

    async def _held_under(
        self, conn: AsyncConnection, campaign_id: int, numbers: list[str]
    ) -> dict[str, set[str]]:
        """For each of `numbers` a lead of the campaign has (one still on its list): the
        lead_ids that have it."""
        found: dict[str, set[str]] = {}
        for start in range(0, len(numbers), 1000):
            rows = await conn.execute(
                select(leads.c.to_number, leads.c.lead_key)
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.to_number.in_(numbers[start : start + 1000]))
                .where(leads.c.removed_at.is_(None))
            )
            for number, key in rows:
                found.setdefault(number, set()).add(key)
        return found

    async def _restore(self, conn: AsyncConnection, lead_id: int, now: datetime) -> None:
        """A lead an earlier load no longer had is in the file again: dialed again as before
        (a waiting one that was skipped for it waits again)."""
        await conn.execute(
            leads.update()
            .where(leads.c.id == lead_id)
            .where(leads.c.state == LeadState.SKIPPED)
            .where(leads.c.skip_reason == REMOVED_FROM_LIST)
            .values(state=LeadState.PENDING, skip_reason=None, next_attempt_at=now)
        )
        await conn.execute(leads.update().where(leads.c.id == lead_id).values(removed_at=None))

    async def _apply(
        self,
        conn: AsyncConnection,
        lead_id: int,
        lead: KnownLead,
        record: LeadRecord,
        edit: Edit,
        now: datetime,
    ) -> None:
        """Write one edit to a lead with history (a kept one remembers the row it saw, so the
        next load finds it unchanged)."""
        values: dict[str, Any] = {"content_hash": record.content_hash, "updated_at": now}
        if edit.kind in (RowEdit.UPDATED, RowEdit.NUMBER_CHANGED):
            values.update(
                dynamic_variables=json.loads(record.dynamic_variables),
                call_metadata=json.loads(record.call_metadata),
                consent_at=record.consent_at,
                timezone=record.timezone,
            )
            if lead.number_index == 0 and edit.kind is RowEdit.UPDATED:
                values.update(zones=record.zones, states=record.states)
        if edit.kind is RowEdit.NUMBER_CHANGED:
            row = (
                await conn.execute(
                    select(leads.c.alternates, leads.c.number_index).where(leads.c.id == lead_id)
                )
            ).one()
            new = {"to_number": record.to_number, "zones": record.zones, "states": record.states}
            alternates = list(row.alternates or [])
            alternates.insert(row.number_index, new)  # the lead's next number
            values["alternates"] = alternates
            if edit.move_now:  # it waits or failed: on to the new number now, a fresh count
                values.update(
                    to_number=new["to_number"],
                    zones=new["zones"],
                    states=new["states"],
                    number_index=row.number_index + 1,
                    attempts=0,
                    state=LeadState.PENDING,
                    next_attempt_at=now,
                    skip_reason=None,
                    wait_reason=None,
                    next_plan=None,  # a step's plan was for the old number's next call
                )
        await conn.execute(leads.update().where(leads.c.id == lead_id).values(**values))
