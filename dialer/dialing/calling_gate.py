"""Which of a campaign's places (zones and states) a claim may take now, kept fresh without
re-reading the store on every claim: the plan is recomputed each second (and the moment a
window opens), the places and their lead counts re-read every 30 s. Calling hours, state rules,
holidays and skip dates all decide through dialer.domain.calling_rules."""

from __future__ import annotations

from datetime import datetime

import anyio

from dialer.dialing.clock import Clock
from dialer.dialing.ports import PlaceCounts
from dialer.domain.calling_rules import CallingRules, Place, PlaceFilter, schedule
from dialer.domain.pacing import CLAIM_HORIZON

_REPLAN_SECONDS = 1.0
_REREAD_SECONDS = 30.0


class CallingGate:
    def __init__(
        self, store: PlaceCounts, campaign_id: int, rules: CallingRules, clock: Clock
    ) -> None:
        self._store = store
        self._campaign_id = campaign_id
        self._rules = rules
        self._clock = clock
        self._counts: dict[Place, int] = {}
        self._counts_read = -1e9
        self._filter: PlaceFilter | None = None
        self._filter_until = -1e9
        self.waiting = 0  # due leads whose window is closed now
        self.waiting_by_reason: dict[str, int] = {}
        self.next_opening: datetime | None = None  # when the next of those windows opens

    def use(self, rules: CallingRules) -> None:
        """The campaign's rules changed (a reload): plan by these from the next claim on."""
        self._rules = rules
        self._filter = None
        self._counts_read = -1e9

    async def places(self) -> PlaceFilter | None:
        """The places open now and those never open; None when no rule restricts any of the
        campaign's places (every lead may be claimed)."""
        now = anyio.current_time()
        if now - self._counts_read > _REREAD_SECONDS:
            known = await self._store.known_places(self._campaign_id)
            if known is not None and not any(self._rules.restricts(p) for p in known):
                # no rule restricts any place the leads were loaded with: no need to count
                # (a GROUP BY over every due lead: half a second at a million)
                self._counts = {}
            else:
                self._counts = await self._store.waiting_by_place(self._campaign_id)
            self._counts_read = now
            self._filter_until = 0.0
        if not any(self._rules.restricts(place) for place in self._counts):
            self.waiting, self.waiting_by_reason, self.next_opening = 0, {}, None
            return None
        if self._filter is None or now >= self._filter_until:
            wall = self._clock.now()
            plan = schedule(self._rules, self._counts, wall, CLAIM_HORIZON)
            self._filter = PlaceFilter.of(plan)
            self._filter_until = now + _REPLAN_SECONDS
            self.waiting = plan.waiting_count(self._counts)
            self.waiting_by_reason = plan.waiting_by_reason(self._counts)
            self.next_opening = plan.next_opening  # an opening only a waiting place has
            # re-plan the moment a window opens, and before one closes (less the claim's
            # lookahead): a place is never open to claims past its window
            for change in (plan.next_opening, plan.next_closing):
                if change is not None:
                    change_in = (change - wall).total_seconds()
                    self._filter_until = min(self._filter_until, now + max(0.0, change_in))
        return self._filter
