"""An in-memory store implementing the dialing ports (dialer.dialing.ports.ServingStore).

It decides as the real store does, with the same pure functions: a claim plans with
`dialer.domain.pacing.plan_claim` and chooses with `dialer.domain.claim.select`, a call's end
is judged with `dialer.domain.call_end`, status changes are `dialer.domain.lifecycle`
transitions written only from the statuses they name, and every write after a request is
fenced on the claim (the attempt, still held by this worker, still in the states named). Each
verb is one step with no await inside (a transaction), after a checkpoint (its I/O), so
concurrent tasks interleave between verbs as they do with a database. Its clock is
`VirtualTime` (anyio's clock): the conformance test (tests/store/test_port_conformance.py)
holds it to the real store's behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel

from dialer.domain.call_end import HealthRules
from dialer.domain.caller_id import NO_NUMBER_LEFT, usable
from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.claim import lookback
from dialer.domain.claim import select as select_claim
from dialer.domain.lifecycle import Cause, Transition, finished, paused
from dialer.domain.pacing import next_free_slot, plan_claim
from dialer.domain.policy import Decision
from dialer.domain.states import (
    LIVE_ATTEMPT_STATES,
    UNSETTLED_ATTEMPT_STATES,
    AttemptState,
    CampaignStatus,
    LeadState,
)
from dialer.store import (
    Attempt,
    CallEndRecord,
    CampaignRow,
    Claim,
    ClaimRequest,
    NumberBusyError,
)
from dialer.store.records import attempt_for_lead

from .clock import VirtualTime
from .following import FollowingTables
from .tables import Tables


class AlwaysAvailable:
    """The in-memory store never goes away: nothing to run when it comes back."""

    @contextmanager
    def when_back(self, callback: Callable[[], Awaitable[object]]) -> Iterator[None]:
        yield


class MemoryStore(FollowingTables, Tables):
    """The dialing ports' store, in memory (see Tables for its rows). `shared`: as Postgres,
    several processes (runners) may serve one campaign and follow its calls once."""

    def __init__(self, time: VirtualTime | None = None, *, shared: bool = False) -> None:
        Tables.__init__(self, time)
        FollowingTables.__init__(self, shared=shared)
        self.availability = AlwaysAvailable()

    # -- reads ---------------------------------------------------------------------------------

    async def now(self) -> datetime:
        await anyio.lowlevel.checkpoint()
        return self.time.now()

    async def campaign(self, name_or_id: str | int) -> CampaignRow | None:
        await anyio.lowlevel.checkpoint()
        for state in self.campaigns.values():
            if name_or_id in (state.id, state.name):
                return state.row()
        return None

    async def campaigns_to_serve(self) -> list[CampaignRow]:
        await anyio.lowlevel.checkpoint()
        now = self.time.now()
        orphaned = {
            a.campaign_id
            for a in self.attempts.values()
            if a.live and a.lease_expires_at is not None and a.lease_expires_at < now
        }
        return [
            c.row()
            for c in self.campaigns.values()
            if c.status is CampaignStatus.ACTIVE or c.id in orphaned
        ]

    async def has_unfinished_leads(self, campaign_id: int) -> bool:
        await anyio.lowlevel.checkpoint()
        return any(lead.unfinished for lead in self._leads_of(campaign_id))

    async def live_attempts(self, campaign_id: int) -> int:
        await anyio.lowlevel.checkpoint()
        return self._live_count(campaign_id)

    async def in_doubt_count(self, campaign_id: int) -> int:
        await anyio.lowlevel.checkpoint()
        return sum(
            1
            for a in self.attempts.values()
            if a.campaign_id == campaign_id and a.state is AttemptState.IN_DOUBT
        )

    async def next_due_at(
        self, campaign_id: int, places: PlaceFilter | None = None
    ) -> datetime | None:
        await anyio.lowlevel.checkpoint()
        due = [lead.next_attempt_at for lead in self._due_leads(campaign_id, places)]
        return min(due, default=None)

    async def known_places(self, campaign_id: int) -> list[Place] | None:
        await anyio.lowlevel.checkpoint()
        return self.campaigns[campaign_id].places

    async def waiting_by_place(self, campaign_id: int) -> dict[Place, int]:
        await anyio.lowlevel.checkpoint()
        counts: dict[Place, int] = {}
        for lead in self._due_leads(campaign_id, None):
            counts[lead.place] = counts.get(lead.place, 0) + 1
        return counts

    # -- claiming ------------------------------------------------------------------------------

    async def claim(
        self,
        campaign_id: int,
        worker_id: str,
        request: ClaimRequest,
        *,
        places: PlaceFilter | None = None,
        account_cap: int | None = None,
    ) -> Claim:
        await anyio.lowlevel.checkpoint()
        campaign = self.campaigns[campaign_id]
        now = self.time.now()
        budget = request.budget
        plan = plan_claim(
            request.pacing,
            status=campaign.status,
            hold_until=campaign.hold_until,
            live=self._live_count(campaign_id),
            next_dial_at=campaign.next_dial_at,
            now=now,
            limit=request.limit,
            account_cap=account_cap,
            speed=request.speed,
            budget=budget,
            spend=self._spend(campaign, now, request.speed) if budget else None,
        )
        if plan.pause_reason is not None:
            self._transition(campaign, paused(Cause.BUDGET, plan.pause_reason), now)
            return Claim([], now, CampaignStatus.PAUSED, None, 0)
        if not plan.count:
            return Claim([], now, campaign.status, plan.retry_in, plan.free_slots)
        pool = self._pool_as_of(campaign, request.caller_ids, now)
        if pool is not None and not usable(pool):
            self._transition(campaign, paused(Cause.NO_NUMBER_LEFT, NO_NUMBER_LEFT), now)
            return Claim([], now, CampaignStatus.PAUSED, None, 0)
        candidates = self._due_candidates(campaign_id, now, plan.count, places)
        rules = replace(request.rules, places=places)
        period = lookback(rules)
        recent = (
            self._recent_calls({c.to_number for c in candidates}, now - period)
            if period is not None
            else {}
        )
        chosen = select_claim(
            [self._due_lead(c) for c in candidates],
            rules,
            plan,
            recent_calls=recent,
            pool=pool,
            now=now,
        )
        dialed = [d.lead.to_number for d in chosen.dial]
        if len(set(dialed)) < len(dialed):  # the real store's unique index refuses it all
            raise NumberBusyError("one live attempt per number")
        for reason, ids in chosen.skipped.items():
            for skipped in (self.leads[i] for i in ids):
                skipped.state, skipped.skip_reason = LeadState.SKIPPED, reason
        for lead_id, until, reason in chosen.deferred:
            deferred = self.leads[lead_id]
            deferred.next_attempt_at, deferred.wait_reason = until, reason
        claimed = [
            self._write_claim(campaign_id, worker_id, self.leads[d.lead.lead_id], d, now, request)
            for d in chosen.dial
        ]
        if claimed:
            campaign.next_dial_at = plan.slot(len(claimed))
        return Claim(claimed, now, campaign.status, None, plan.free_slots - len(claimed))

    async def reserve_dial_slot(
        self, campaign_id: int, pacing: Pacing, speed: float = 1.0
    ) -> float:
        await anyio.lowlevel.checkpoint()
        campaign = self.campaigns[campaign_id]
        now = self.time.now()
        slot, campaign.next_dial_at = next_free_slot(pacing, campaign.next_dial_at, now, speed)
        return (slot - now).total_seconds()

    async def hold(self, campaign_id: int, seconds: float) -> None:
        await anyio.lowlevel.checkpoint()
        campaign = self.campaigns[campaign_id]
        until = self.time.now() + timedelta(seconds=seconds)
        if campaign.hold_until is None or campaign.hold_until < until:
            campaign.hold_until = until

    # -- settling (every write fenced on the claim) ---------------------------------------------

    async def record_placed(
        self,
        attempt: Attempt,
        worker_id: str,
        call_id: str,
        call_status: str,
        lease_seconds: float,
    ) -> bool:
        await anyio.lowlevel.checkpoint()
        row = self._fenced(attempt, worker_id, UNSETTLED_ATTEMPT_STATES)
        if row is None:
            return False
        now = self.time.now()
        row.state, row.call_id, row.call_status = AttemptState.PLACED, call_id, call_status
        row.sent_at, row.api_error = now, None
        row.voicemail_action, row.variant = attempt.voicemail_action, attempt.variant
        row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        self.leads[attempt.lead_id].state = LeadState.IN_CALL
        return True

    async def record_in_doubt(self, attempt: Attempt, worker_id: str, reason: str) -> bool:
        await anyio.lowlevel.checkpoint()
        row = self._fenced(attempt, worker_id, UNSETTLED_ATTEMPT_STATES)
        if row is None:
            return False
        row.state, row.api_error, row.sent_at = AttemptState.IN_DOUBT, reason, self.time.now()
        return True

    async def record_not_placed(
        self,
        attempt: Attempt,
        worker_id: str,
        decision: Decision,
        *,
        error: str | None,
        sent: bool = True,
    ) -> bool:
        await anyio.lowlevel.checkpoint()
        row = self._fenced(attempt, worker_id, UNSETTLED_ATTEMPT_STATES)
        if row is None:
            return False
        now = self.time.now()
        if sent:
            row.state, row.api_error = AttemptState.NOT_PLACED, error
            row.settled_at, row.lease_expires_at = now, None
            row.settled_order = next(self._settles)
        else:  # never sent: no row at all
            del self.attempts[row.id]
        self._write_lead_decision(attempt, decision, now)
        self._slot_freed(attempt.campaign_id)
        return True

    async def record_call_end(
        self,
        attempt: Attempt,
        worker_id: str,
        decision: Decision,
        call: CallEnd,
        health: HealthRules | None = None,
    ) -> CallEndRecord:
        await anyio.lowlevel.checkpoint()
        row = self._fenced(attempt, worker_id, LIVE_ATTEMPT_STATES)
        if row is None:
            return CallEndRecord(written=False)
        now = self.time.now()
        row.state, row.call_status = AttemptState.ENDED, call.call_status
        row.disconnection_reason = call.disconnection_reason
        row.started_at, row.ended_at, row.duration_ms = (
            call.started_at,
            call.ended_at,
            call.duration_ms,
        )
        if call.analysis is not None:  # what came first (a webhook) is kept
            row.analysis = call.analysis
        if call.recording_url:
            row.recording_url = call.recording_url
        row.settled_at, row.lease_expires_at = now, None
        row.settled_order = next(self._settles)
        self._write_lead_decision(attempt, decision, now, plan=True)
        self._slot_freed(attempt.campaign_id)
        if call.cost_cents is not None:
            self._bill(row, call.cost_cents)
        if decision.suppress_reason is not None:
            self.suppressions.setdefault(attempt.to_number, decision.suppress_reason)
        verdict = self._judge_health(attempt, decision, call, health)
        return self._apply_verdict(attempt, decision, verdict, now)

    async def record_later_details(
        self,
        call_id: str,
        analysis: dict[str, Any] | None,
        cost_cents: float | None = None,
        recording_url: str | None = None,
    ) -> None:
        await anyio.lowlevel.checkpoint()
        for row in self.attempts.values():
            if row.call_id != call_id:
                continue
            if analysis is not None:
                row.analysis = analysis
            if recording_url is not None:
                row.recording_url = recording_url
            if cost_cents is not None:
                self._bill(row, cost_cents)

    # -- leases --------------------------------------------------------------------------------

    async def renew_leases(
        self, worker_id: str, attempt_ids: Collection[str], lease_seconds: float
    ) -> int:
        await anyio.lowlevel.checkpoint()
        now = self.time.now()
        until = now + timedelta(seconds=lease_seconds)
        renewed = 0
        for attempt_id in attempt_ids:
            row = self.attempts.get(attempt_id)
            if row is None or row.claimed_by != worker_id or not row.live:
                continue
            if row.lease_expires_at is not None and row.lease_expires_at < until:
                row.lease_expires_at = until
                renewed += 1
        return renewed

    async def release_leases(self, worker_id: str) -> None:
        await anyio.lowlevel.checkpoint()
        now = self.time.now()
        for row in self.attempts.values():
            if row.claimed_by == worker_id and row.live:
                row.lease_expires_at = now

    async def take_over_expired(
        self, campaign_id: int, worker_id: str, lease_seconds: float, limit: int = 200
    ) -> list[Attempt]:
        await anyio.lowlevel.checkpoint()
        now = self.time.now()
        expired = [
            row
            for row in self.attempts.values()
            if row.campaign_id == campaign_id
            and row.live
            and row.lease_expires_at is not None
            and row.lease_expires_at <= now
        ][:limit]
        taken = []
        for row in expired:
            row.claimed_by = worker_id
            row.lease_expires_at = now + timedelta(seconds=lease_seconds)
            taken.append(
                attempt_for_lead(
                    self.leads[row.lead_id],
                    campaign_id,
                    attempt_id=row.id,
                    number=row.number,
                    to_number=row.to_number,
                    created_at=row.created_at,
                    state=row.state,
                    call_id=row.call_id,
                    from_number=row.from_number,
                    variant=row.variant or self.recorded_variant(row.lead_id),
                )
            )
        return taken

    # -- the campaign's end, processes, wake-ups ---------------------------------------------

    async def change_status(self, campaign_id: int, transition: Transition) -> bool:
        await anyio.lowlevel.checkpoint()
        return self._transition(self.campaigns[campaign_id], transition, self.time.now())

    async def finish_if_done(self, campaign_id: int) -> bool:
        await anyio.lowlevel.checkpoint()
        if any(lead.unfinished for lead in self._leads_of(campaign_id)):
            return False
        return self._transition(self.campaigns[campaign_id], finished(), self.time.now())

    async def heartbeat(self, worker_id: str, kind: str, campaign_id: int | None = None) -> None:
        await anyio.lowlevel.checkpoint()
        self.processes[worker_id] = (kind, campaign_id, self.time.now())

    async def process_gone(self, worker_id: str) -> None:
        await anyio.lowlevel.checkpoint()
        self.processes.pop(worker_id, None)

    async def watch_freed_slots(
        self, on_freed: Callable[[int], None], on_seen: Callable[[int], None] | None = None
    ) -> None:
        self._freed.append(on_freed)
        if on_seen is not None:
            self._seen_watchers.append(on_seen)
        try:
            await anyio.sleep_forever()
        finally:
            self._freed.remove(on_freed)
            if on_seen is not None:
                self._seen_watchers.remove(on_seen)
