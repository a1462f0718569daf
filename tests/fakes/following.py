"""The in-memory store's following once per fleet (dialer.store.following): the following
lease, decided by the domain's own `may_hold`, and the ends its holder saw. Shared or not as
the test says (the real store: Postgres is, SQLite is not)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import anyio.lowlevel

from dialer.domain.following import may_hold
from dialer.domain.states import AttemptState

from .clock import VirtualTime
from .rows import AttemptRow


class FollowingTables:
    """Following leases and seen ends, beside the tables' attempts."""

    time: VirtualTime
    attempts: dict[str, AttemptRow]

    def __init__(self, *, shared: bool = False) -> None:
        self.shared = shared
        self.following: dict[int, tuple[str, datetime]] = {}  # campaign -> holder, expires at
        self.seen: dict[str, tuple[int, dict[str, Any]]] = {}  # attempt -> campaign, call
        self._seen_watchers: list[Callable[[int], None]] = []

    @property
    def is_shared(self) -> bool:
        return self.shared

    async def hold_following(self, campaign_id: int, worker_id: str, lease_seconds: float) -> bool:
        await anyio.lowlevel.checkpoint()
        now = self.time.now()
        holder, expires_at = self.following.get(campaign_id, (None, None))
        if not may_hold(holder, expires_at, worker_id, now):
            return False
        self.following[campaign_id] = (worker_id, now + timedelta(seconds=lease_seconds))
        return True

    async def release_following(self, campaign_id: int, worker_id: str) -> None:
        await anyio.lowlevel.checkpoint()
        if self.following.get(campaign_id, ("", None))[0] == worker_id:
            self.following[campaign_id] = (worker_id, self.time.now())

    async def placed_calls(self, campaign_id: int, other_than: str) -> dict[str, str]:
        await anyio.lowlevel.checkpoint()
        return {
            row.id: row.call_id
            for row in self.attempts.values()
            if row.campaign_id == campaign_id
            and row.state is AttemptState.PLACED
            and row.call_id is not None
            and row.claimed_by != other_than
            and row.id not in self.seen
        }

    async def record_seen_ends(
        self, campaign_id: int, ends: Sequence[tuple[str, dict[str, Any]]]
    ) -> int:
        await anyio.lowlevel.checkpoint()
        new = [(a, call) for a, call in ends if a not in self.seen and a in self.attempts]
        for attempt_id, call in new:
            self.seen[attempt_id] = (campaign_id, call)
        if new:
            for on_seen in list(self._seen_watchers):
                on_seen(campaign_id)
        return len(new)

    async def seen_ends(self, campaign_id: int, worker_id: str) -> list[tuple[str, dict[str, Any]]]:
        await anyio.lowlevel.checkpoint()
        return [
            (attempt_id, call)
            for attempt_id, (campaign, call) in self.seen.items()
            if campaign == campaign_id
            and (row := self.attempts[attempt_id]).claimed_by == worker_id
            and row.state is AttemptState.PLACED
        ]

    async def record_seen_call(self, call_id: str, call: dict[str, Any]) -> bool:
        await anyio.lowlevel.checkpoint()
        row = next(
            (
                r
                for r in self.attempts.values()
                if r.call_id == call_id and r.state is AttemptState.PLACED
            ),
            None,
        )
        if row is None:
            return False
        if row.id not in self.seen:
            self.seen[row.id] = (row.campaign_id, call)
            for on_seen in list(self._seen_watchers):
                on_seen(row.campaign_id)
        return True
