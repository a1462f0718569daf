"""Following a campaign's calls once per fleet, a process's part (dialer.domain.following).

Each tick the follower asks the store for the campaign's following lease (taken, renewed, or
held by another process). Its holder asks Retell about every placed call of the campaign — its
own, settled here as always, and the other processes' (`foreign`), whose ends it writes to the
store, which announces them. Every process, the holder too, settles its own calls whose end
was written there (by the holder, or by a holder before it), on the announcement or at the
latest within a second: each settle is fenced on the attempt's claim, as always, so a call's
end is written once whoever saw it.
"""

from __future__ import annotations

from typing import Any

import anyio
import structlog

from dialer.dialing.options import FollowMode, RunOptions
from dialer.dialing.ports import FollowingStore
from dialer.domain.following import foreign_calls, lease_period
from dialer.retell import PhoneCall

RELEASE_SECONDS = 2.0  # how long a stopping holder tries to give the lease back
PLACED_EVERY = 2  # the holder reads the campaign's placed calls every this many ticks


class FleetFollowing:
    """The following lease of one campaign, as one process sees it."""

    def __init__(
        self,
        store: FollowingStore,
        campaign_id: int,
        worker_id: str,
        tick_seconds: float,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._store = store
        self._campaign_id = campaign_id
        self._worker_id = worker_id
        self.lease_seconds = lease_period(tick_seconds)
        self._log = log
        self.holding = False
        self._placed: dict[str, str] | None = None  # the campaign's placed calls, last read
        self._ticks = 0

    @classmethod
    def of(
        cls,
        store: FollowingStore,
        campaign_id: int,
        options: RunOptions,
        log: structlog.typing.FilteringBoundLogger,
    ) -> FleetFollowing | None:
        """A runner's share of following its campaign: only where processes share the store
        and calls are followed in batches (per call, each process follows its own)."""
        if not store.is_shared or options.follow != FollowMode.LIST:
            return None
        tick = options.scaled(options.follow_tick_seconds)
        return cls(store, campaign_id, options.worker_id, tick, log)

    async def hold(self) -> bool:
        """Take or renew the lease; whether this process follows the campaign this tick."""
        held = await self._store.hold_following(
            self._campaign_id, self._worker_id, self.lease_seconds
        )
        if held != self.holding:
            self._log.info("following_lease_taken" if held else "following_lease_lost")
            self._placed = None  # a new holder reads them at once
        self.holding = held
        return held

    async def release(self) -> None:
        """A clean stop: the next process takes the lease at once."""
        if not self.holding:
            return
        self.holding = False
        with anyio.move_on_after(RELEASE_SECONDS, shield=True):
            await self._store.release_following(self._campaign_id, self._worker_id)

    async def foreign(self, own: set[str]) -> dict[str, str]:
        """Placed calls of the campaign other processes follow (attempt id -> call id), read
        from the store every `PLACED_EVERY` ticks (a call lasts many)."""
        self._ticks += 1
        if self._placed is None or self._ticks % PLACED_EVERY == 0:
            self._placed = await self._store.placed_calls(self._campaign_id, self._worker_id)
        return foreign_calls(self._placed, own)

    async def report(self, ends: list[tuple[str, PhoneCall]]) -> None:
        """Other processes' calls this holder saw end: into the store, announced."""
        written: list[tuple[str, dict[str, Any]]] = [
            (attempt_id, call.model_dump(mode="json", exclude_none=True))
            for attempt_id, call in ends
        ]
        await self._store.record_seen_ends(self._campaign_id, written)

    async def seen(self) -> list[tuple[str, PhoneCall]]:
        """Ends of this process's calls another process saw."""
        rows = await self._store.seen_ends(self._campaign_id, self._worker_id)
        return [(attempt_id, PhoneCall.model_validate(call)) for attempt_id, call in rows]
