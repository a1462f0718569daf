"""Following once per fleet: a campaign's following lease (taken, renewed and given back in
one atomic statement each, as `dialer.domain.following.may_hold` says), the campaign's placed
calls its holder asks Retell about, and the ends it saw of calls other processes placed —
written here and announced, so each process settles its own attempts from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.states import AttemptState
from dialer.store.availability import rides_out_outages
from dialer.store.notifications import SEEN_PREFIX, SLOTS_CHANNEL, NotificationQueries
from dialer.store.schema import attempts, following_leases, seen_call_ends


class FollowingQueries(NotificationQueries):
    @property
    def is_shared(self) -> bool:
        """Whether several processes may serve one campaign from this store (Postgres): then
        they follow its calls through the following lease. SQLite serves one process."""
        return self.is_postgres

    @rides_out_outages
    async def hold_following(self, campaign_id: int, worker_id: str, lease_seconds: float) -> bool:
        """Take or renew the campaign's following lease: True when `worker_id` holds it now
        (nobody held it, it held it, or its holder's lease ran out), for `lease_seconds`."""
        async with self.transaction() as conn:
            # the database's clock, read in the statement itself (one round trip a renewal)
            now = func.clock_timestamp() if self.is_postgres else await self.now(conn)
            insert = self._insert(following_leases).values(
                campaign_id=campaign_id,
                holder=worker_id,
                expires_at=now + timedelta(seconds=lease_seconds),
            )
            held = following_leases.c
            result = await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[held.campaign_id],
                    set_={
                        "holder": insert.excluded.holder,
                        "expires_at": insert.excluded.expires_at,
                    },
                    where=or_(held.holder == worker_id, held.expires_at <= now),
                )
            )
            return bool(result.rowcount)

    @rides_out_outages
    async def release_following(self, campaign_id: int, worker_id: str) -> None:
        """A holder stopping: the next process to ask takes the lease at once."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            await conn.execute(
                following_leases.update()
                .where(following_leases.c.campaign_id == campaign_id)
                .where(following_leases.c.holder == worker_id)
                .values(expires_at=now)
            )

    @rides_out_outages
    async def placed_calls(self, campaign_id: int, other_than: str) -> dict[str, str]:
        """The campaign's placed calls whose end nobody has seen yet, held by processes other
        than `other_than` (the holder asking, which follows its own): attempt id -> call id."""
        seen = select(seen_call_ends.c.attempt_id).where(
            seen_call_ends.c.attempt_id == attempts.c.id
        )
        stmt = (
            select(attempts.c.id, attempts.c.call_id)
            .where(attempts.c.campaign_id == campaign_id)
            .where(attempts.c.state == AttemptState.PLACED)
            .where(attempts.c.call_id.is_not(None))
            .where(attempts.c.claimed_by != other_than)
            .where(~seen.exists())
        )
        async with self.engine.connect() as conn:
            return {str(r.id): str(r.call_id) for r in await conn.execute(stmt)}

    @rides_out_outages
    async def record_seen_ends(
        self, campaign_id: int, ends: Sequence[tuple[str, dict[str, Any]]]
    ) -> int:
        """The holder saw these calls end (attempt id, the call as listed): write them down
        (once each) and wake the processes serving the campaign. Returns how many were new."""
        if not ends:
            return 0
        async with self.transaction() as conn:
            now = await self.now(conn)
            result = await conn.execute(
                self._insert(seen_call_ends)
                .values(
                    [
                        {"attempt_id": attempt_id, "campaign_id": campaign_id, "call": call}
                        | {"seen_at": now}
                        for attempt_id, call in ends
                    ]
                )
                .on_conflict_do_nothing()
            )
            written = int(result.rowcount)
            if written:
                await self._ends_seen(conn, campaign_id)
            return written

    @rides_out_outages
    async def record_seen_call(self, call_id: str, call: dict[str, Any]) -> bool:
        """A webhook told this process of the end of a call another process follows: write it
        down as if the lease's holder had seen it (that process settles it at once). False when
        no placed attempt has that call."""
        async with self.transaction() as conn:
            row = (
                await conn.execute(
                    select(attempts.c.id, attempts.c.campaign_id)
                    .where(attempts.c.call_id == call_id)
                    .where(attempts.c.state == AttemptState.PLACED)
                )
            ).first()
            if row is None:
                return False
            now = await self.now(conn)
            result = await conn.execute(
                self._insert(seen_call_ends)
                .values(attempt_id=row.id, campaign_id=row.campaign_id, call=call, seen_at=now)
                .on_conflict_do_nothing()
            )
            if result.rowcount:
                await self._ends_seen(conn, int(row.campaign_id))
            return True

    @rides_out_outages
    async def seen_ends(self, campaign_id: int, worker_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Ends seen of the placed calls `worker_id` holds in the campaign (attempt id, the
        call as listed): it settles them, fenced on its claim as every settle is."""
        stmt = (
            select(seen_call_ends.c.attempt_id, seen_call_ends.c.call)
            .join(attempts, attempts.c.id == seen_call_ends.c.attempt_id)
            .where(seen_call_ends.c.campaign_id == campaign_id)
            .where(attempts.c.claimed_by == worker_id)
            .where(attempts.c.state == AttemptState.PLACED)
        )
        async with self.engine.connect() as conn:
            return [(str(r.attempt_id), dict(r.call)) for r in await conn.execute(stmt)]

    async def _ends_seen(self, conn: AsyncConnection, campaign_id: int) -> None:
        if self.is_postgres:
            await conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": SLOTS_CHANNEL, "payload": f"{SEEN_PREFIX}{campaign_id}"},
            )
