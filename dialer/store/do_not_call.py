"""The store-wide do-not-call list (the `suppressions` table): numbers no campaign of the store
calls. A call that ends `user_requested_dnc` adds its number by itself; people add and remove
numbers through the HTTP API. Every claim reads the list, so a number added is honoured at the
next claim, by every worker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase
from dialer.store.schema import suppressions


@dataclass(frozen=True)
class DoNotCallEntry:
    to_number: str
    reason: str
    source: str | None
    created_at: datetime


def _entry(row: Row[Any, Any, Any, Any]) -> DoNotCallEntry:
    return DoNotCallEntry(row.to_number, row.reason, row.source, row.created_at)


_COLUMNS = (
    suppressions.c.to_number,
    suppressions.c.reason,
    suppressions.c.source,
    suppressions.c.created_at,
)


class DoNotCallQueries(StoreBase):
    @rides_out_outages
    async def add_do_not_call(self, numbers: Sequence[str], reason: str, source: str) -> int:
        """Put `numbers` (E.164) on the list; a number on it already keeps its entry. Returns
        how many were new."""
        added = 0
        async with self.transaction() as conn:
            now = await self.now(conn)
            for start in range(0, len(numbers), 1000):
                rows = [
                    {"to_number": n, "reason": reason, "source": source, "created_at": now}
                    for n in numbers[start : start + 1000]
                ]
                result = await conn.execute(
                    self._insert(suppressions).values(rows).on_conflict_do_nothing()
                )
                added += max(0, result.rowcount)
        return added

    @rides_out_outages
    async def remove_do_not_call(self, number: str) -> bool:
        """Take `number` off the list (leads already skipped for it stay skipped). False when
        it was not on it."""
        async with self.transaction() as conn:
            gone = await conn.execute(
                suppressions.delete().where(suppressions.c.to_number == number)
            )
            return bool(gone.rowcount)

    @rides_out_outages
    async def do_not_call_entry(self, number: str) -> DoNotCallEntry | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(*_COLUMNS).where(suppressions.c.to_number == number))
            ).one_or_none()
        return None if row is None else _entry(row)

    @rides_out_outages
    async def do_not_call_page(self, after: str | None, limit: int) -> list[DoNotCallEntry]:
        """Up to `limit` entries in number order, after the number `after`."""
        stmt = select(*_COLUMNS).order_by(suppressions.c.to_number).limit(limit)
        if after is not None:
            stmt = stmt.where(suppressions.c.to_number > after)
        async with self.engine.connect() as conn:
            return [_entry(r) for r in await conn.execute(stmt)]
