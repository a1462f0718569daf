"""Which of a campaign's zone keys a claim may take now, kept fresh without re-reading the
store on every claim: the plan is recomputed each second (and the moment a window opens), the
keys and their lead counts re-read every 30 s."""

from __future__ import annotations

import time
from datetime import datetime

from dialer.clock import Clock
from dialer.domain.campaign import CallingHours
from dialer.domain.hours import ZoneFilter, schedule
from dialer.store import Store

_REPLAN_SECONDS = 1.0
_REREAD_SECONDS = 30.0


class CallingHoursGate:
    def __init__(self, store: Store, campaign_id: int, hours: CallingHours, clock: Clock) -> None:
        self._store = store
        self._campaign_id = campaign_id
        self._hours = hours
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._counts_read = -1e9
        self._filter: ZoneFilter | None = None
        self._filter_until = -1e9
        self.waiting = 0  # due leads whose window is closed now
        self.next_opening: datetime | None = None  # when the next of those windows opens

    async def zones(self) -> ZoneFilter:
        now = time.monotonic()
        if now - self._counts_read > _REREAD_SECONDS:
            self._counts = await self._store.waiting_by_zone(self._campaign_id)
            self._counts_read = now
            self._filter_until = 0.0
        if self._filter is None or now >= self._filter_until:
            wall = self._clock.now()
            plan = schedule(self._hours, self._counts, wall)
            self._filter = ZoneFilter.of(self._hours, plan)
            self._filter_until = now + _REPLAN_SECONDS
            self.waiting = plan.waiting_count(self._counts)
            self.next_opening = plan.next_opening  # an opening only a waiting key has
            if plan.next_opening is not None:  # re-plan the moment a window opens
                opens_in = (plan.next_opening - wall).total_seconds()
                self._filter_until = min(self._filter_until, now + max(0.0, opens_in))
        return self._filter
