"""Wake-ups across processes: when an attempt stops holding a slot (its call ended, or its
create proved no call exists), its transaction notifies every process serving the campaign,
which claims at once instead of at its next poll. Postgres LISTEN/NOTIFY; the notification is
delivered on commit. Elsewhere (SQLite: one process) nothing is sent and polling stays the
fallback, as it does everywhere (a notification may be missed while reconnecting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.store.base import StoreBase
from dialer.store.errors import is_connection_lost

log = structlog.get_logger("dialer.store")
SLOTS_CHANNEL = "dialer_slots"
SEEN_PREFIX = "seen:"  # "seen:<campaign id>": the following lease's holder saw calls end
_KEEPALIVE_SECONDS = 5.0
_RECONNECT_SECONDS = 2.0


class NotificationQueries(StoreBase):
    async def _slot_freed(self, conn: AsyncConnection, campaign_id: int) -> None:
        """Inside a transaction that freed one of the campaign's slots."""
        if self.is_postgres:
            await conn.execute(
                text("SELECT pg_notify(:channel, :campaign)"),
                {"channel": SLOTS_CHANNEL, "campaign": str(campaign_id)},
            )

    async def watch_freed_slots(
        self, on_freed: Callable[[int], None], on_seen: Callable[[int], None] | None = None
    ) -> None:
        """Until cancelled: `on_freed(campaign_id)` whenever any process frees a slot of a
        campaign, and `on_seen(campaign_id)` whenever the process following its calls saw some
        end (dialer.store.following). Reconnects by itself; does nothing on SQLite."""
        if not self.is_postgres:
            await anyio.sleep_forever()
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            if payload.isdigit():
                on_freed(int(payload))
            elif on_seen is not None and payload.startswith(SEEN_PREFIX):
                campaign = payload.removeprefix(SEEN_PREFIX)
                if campaign.isdigit():
                    on_seen(int(campaign))

        while True:
            try:
                conn = await asyncpg.connect(dsn, timeout=10)
                try:
                    await conn.add_listener(SLOTS_CHANNEL, heard)
                    while True:  # a dead connection shows on its next query
                        await anyio.sleep(_KEEPALIVE_SECONDS)
                        await conn.execute("SELECT 1")
                finally:
                    with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                        await conn.close()
            except Exception as exc:
                if not is_connection_lost(exc) and not isinstance(exc, asyncpg.PostgresError):
                    raise
                await anyio.sleep(_RECONNECT_SECONDS)
