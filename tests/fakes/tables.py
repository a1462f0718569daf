"""The in-memory store's tables, and what its verbs share: the reads and writes a statement
of the real store makes (the fence on a claim, a status transition, a lead's decision, a bill,
the spend, the pool's counts, the latest calls) and the judgement of a call's end, decided by
the domain's own functions."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from dialer.domain.call_end import HealthRules, HealthVerdict, health_verdict
from dialer.domain.caller_id import PoolNumber
from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.calls import CallEnd
from dialer.domain.claim import Dial, DueLead, RecentCall
from dialer.domain.lifecycle import Cause, Transition, paused
from dialer.domain.pacing import COST_WAIT, Spend
from dialer.domain.policy import Decision
from dialer.domain.screening import DAILY_WINDOW
from dialer.domain.states import AttemptState, CampaignStatus, LeadState, SkipReason
from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.leads import Lead, LeadScan, iter_leads
from dialer.store import Attempt, CallEndRecord, CallerIdPlan, ClaimRequest
from dialer.store.records import attempt_for_lead

from .clock import VirtualTime
from .rows import AttemptRow, CampaignState, LeadRow


class Tables:
    """Campaigns, leads, attempts and suppressions in dicts, on one virtual time."""

    def __init__(self, time: VirtualTime | None = None) -> None:
        self.time = time or VirtualTime()
        self.campaigns: dict[int, CampaignState] = {}
        self.leads: dict[int, LeadRow] = {}
        self.attempts: dict[str, AttemptRow] = {}
        self.suppressions: dict[str, str] = {}  # to_number -> reason
        self.processes: dict[str, tuple[str, int | None, datetime]] = {}
        self._ids = itertools.count(1)
        self._settles = itertools.count(1)
        self._freed: list[Callable[[int], None]] = []

    # -- loading (what dialer.operations.loading does for the real store) ---------------------

    def load(self, source: CampaignSource) -> int:
        """A campaign file and its lead list, as a first load writes them."""
        scan = LeadScan()
        leads = list(iter_leads(source, scan))
        assert not scan.problems, scan.problems
        config = source.campaign.model_dump(mode="json", exclude={"leads"})
        return self.add_campaign(source.campaign.name, config, leads)

    def add_campaign(self, name: str, config: dict[str, Any], leads: Iterable[Lead]) -> int:
        campaign_id = next(self._ids)
        now = self.time.now()
        places: set[Place] = set()
        for lead in leads:
            row = LeadRow(
                id=next(self._ids),
                campaign_id=campaign_id,
                to_number=lead.to_number,
                zones=lead.zones,
                states=lead.states,
                dynamic_variables=dict(lead.dynamic_variables),
                call_metadata=dict(lead.metadata),
                next_attempt_at=now,
                consent_at=lead.consent_at,
                alternates=[a.as_json() for a in lead.alternates] or None,
                lead_key=lead.key,
            )
            self.leads[row.id] = row
            places |= {lead.place, *(Place(a.zones, a.states) for a in lead.alternates)}
        self.campaigns[campaign_id] = CampaignState(
            campaign_id, name, config, places=sorted(places)
        )
        return campaign_id

    # -- what the verbs share (each inside one verb's step) ------------------------------------------------------------------

    def _leads_of(self, campaign_id: int) -> Iterator[LeadRow]:
        return (lead for lead in self.leads.values() if lead.campaign_id == campaign_id)

    def _due_leads(self, campaign_id: int, places: PlaceFilter | None) -> Iterator[LeadRow]:
        readable = None if places is None else set(places.places_to_read)
        for lead in self._leads_of(campaign_id):
            if lead.due and (readable is None or lead.place in readable):
                yield lead

    def _due_candidates(
        self, campaign_id: int, now: datetime, limit: int, places: PlaceFilter | None
    ) -> list[LeadRow]:
        """Due leads of the places (None: any) in due order, none whose number is in a live
        call (in any campaign)."""
        busy = {a.to_number for a in self.attempts.values() if a.live}
        due = sorted(self._due_leads(campaign_id, places), key=lambda r: (r.next_attempt_at, r.id))
        return [r for r in due if r.next_attempt_at <= now and r.to_number not in busy][:limit]

    def recorded_variant(self, lead_id: int) -> str | None:
        """The variant the lead's latest attempt that recorded one was placed for."""
        rows = [a for a in self.attempts.values() if a.lead_id == lead_id and a.variant]
        return max(rows, key=lambda a: a.created_at).variant if rows else None

    def _write_claim(
        self,
        campaign_id: int,
        worker_id: str,
        lead: LeadRow,
        dial: Dial,
        now: datetime,
        request: ClaimRequest,
    ) -> Attempt:
        attempt = attempt_for_lead(
            lead,
            campaign_id,
            attempt_id=str(uuid.uuid4()),
            number=lead.attempts + 1,
            to_number=lead.to_number,
            created_at=now,
            send_at=dial.slot,
            from_number=dial.from_number,
            variant=self.recorded_variant(lead.id),
        )
        lease = timedelta(seconds=request.lease_seconds)
        self.attempts[attempt.attempt_id] = AttemptRow(
            id=attempt.attempt_id,
            lead_id=lead.id,
            campaign_id=campaign_id,
            number=attempt.number,
            to_number=lead.to_number,
            from_number=dial.from_number,
            created_at=now,
            claimed_by=worker_id,
            # the lease lasts until well after the slot the request goes out at
            lease_expires_at=max(now, dial.slot) + lease,
        )
        lead.state = LeadState.DIALING
        lead.attempts += 1
        lead.last_attempt_id = attempt.attempt_id
        lead.from_number = dial.from_number
        lead.wait_reason = None
        return attempt

    def _live_count(self, campaign_id: int) -> int:
        return sum(1 for a in self.attempts.values() if a.campaign_id == campaign_id and a.live)

    def _due_lead(self, lead: LeadRow) -> DueLead:
        return DueLead(
            lead_id=lead.id,
            to_number=lead.to_number,
            place=lead.place,
            on_do_not_call_list=lead.to_number in self.suppressions,
            has_consent=lead.consent_at is not None,
            removed=lead.removed_at is not None,
            from_number=lead.from_number,
        )

    def _fenced(
        self, attempt: Attempt, worker_id: str, states: tuple[AttemptState, ...]
    ) -> AttemptRow | None:
        """The attempt, still held by this worker, still in one of `states`; else None."""
        row = self.attempts.get(attempt.attempt_id)
        if row is None or row.claimed_by != worker_id or row.state not in states:
            return None
        return row

    def _transition(self, campaign: CampaignState, transition: Transition, now: datetime) -> bool:
        if campaign.status not in transition.from_statuses:
            return False
        campaign.status, campaign.status_reason = transition.status, transition.reason
        if transition.restarts_breaker:
            campaign.breaker_since = now
        return True

    def _write_lead_decision(
        self, attempt: Attempt, decision: Decision, now: datetime, *, plan: bool = False
    ) -> None:
        lead = self.leads[attempt.lead_id]
        if plan:
            lead.next_plan = decision.next_plan
        lead.state = decision.state
        lead.next_attempt_at = decision.next_attempt_at or now
        if decision.refund:
            lead.attempts -= 1
        if decision.lead_reason is not None:
            lead.skip_reason = decision.lead_reason
        lead.wait_reason = decision.wait_reason
        if decision.next_number:
            following = (lead.alternates or [])[lead.number_index]
            lead.to_number, lead.zones = following["to_number"], following["zones"]
            lead.states, lead.number_index = following["states"], lead.number_index + 1
            lead.attempts = lead.attempts if decision.keep_attempts else 0
        cancelled = self.campaigns[lead.campaign_id].status is CampaignStatus.CANCELLED
        if decision.due_again and cancelled:
            lead.state, lead.skip_reason = LeadState.SKIPPED, SkipReason.CAMPAIGN_CANCELLED

    def _slot_freed(self, campaign_id: int) -> None:
        for on_freed in list(self._freed):
            on_freed(campaign_id)

    def _bill(self, row: AttemptRow, cents: float) -> None:
        if row.cost_cents is not None:  # a call's cost is recorded once
            return
        row.cost_cents = cents
        campaign = self.campaigns[row.campaign_id]
        campaign.spend_cents += cents
        campaign.billed_calls += 1
        campaign.billed_ms += row.duration_ms or 0

    def _spend(self, campaign: CampaignState, now: datetime, speed: float) -> Spend:
        stale_before = now - COST_WAIT / speed
        mine = [a for a in self.attempts.values() if a.campaign_id == campaign.id]
        uncosted = [a for a in mine if a.state is AttemptState.ENDED and a.cost_cents is None]
        stale = [a for a in uncosted if a.settled_at is not None and a.settled_at < stale_before]
        fresh = [a for a in uncosted if a not in stale]
        live_ms = tuple(
            max(0, int((now - (a.sent_at or a.created_at)).total_seconds() * 1000 * speed))
            for a in mine
            if a.live
        )
        return Spend(
            cents=campaign.spend_cents,
            calls=campaign.billed_calls,
            billed_ms=campaign.billed_ms,
            uncosted_calls=len(fresh),
            uncosted_ms=sum(a.duration_ms or 0 for a in fresh),
            stale_calls=len(stale),
            stale_ms=sum(a.duration_ms or 0 for a in stale),
            live_ms=live_ms,
        )

    def _pool_as_of(
        self, campaign: CampaignState, plan: CallerIdPlan | None, now: datetime
    ) -> list[PoolNumber] | None:
        if plan is None:
            return None
        numbers = {p.number for p in plan.pool}
        made: dict[str, list[datetime]] = {}
        for a in self.attempts.values():
            recent = a.created_at > now - DAILY_WINDOW and a.state is not AttemptState.NOT_PLACED
            if a.from_number in numbers and recent:
                made.setdefault(a.from_number, []).append(a.created_at)
        return [
            replace(
                p,
                calls_last_day=len(made.get(p.number, [])),
                oldest_call_at=min(made[p.number]) if p.number in made else None,
                last_call_at=max(made[p.number]) if p.number in made else None,
                retired=p.number in campaign.retired,
            )
            for p in plan.pool
        ]

    def _recent_calls(self, numbers: set[str], since: datetime) -> dict[str, list[RecentCall]]:
        found: dict[str, list[RecentCall]] = {}
        for a in self.attempts.values():
            placed_or_tried = a.state is not AttemptState.NOT_PLACED
            if a.to_number in numbers and a.created_at > since and placed_or_tried:
                name = self.campaigns[a.campaign_id].name
                found.setdefault(a.to_number, []).append(RecentCall(a.created_at, name))
        return found

    def _latest_ended(self, campaign_id: int, from_number: str | None = None) -> list[AttemptRow]:
        """The campaign's ended calls (from one from-number, if given), newest first."""
        ended = [
            a
            for a in self.attempts.values()
            if a.campaign_id == campaign_id
            and a.state is AttemptState.ENDED
            and (from_number is None or a.from_number == from_number)
        ]
        return sorted(ended, key=lambda a: (a.settled_at, a.settled_order), reverse=True)

    def _judge_health(
        self, attempt: Attempt, decision: Decision, call: CallEnd, health: HealthRules | None
    ) -> HealthVerdict:
        if health is None:
            return HealthVerdict()
        reason = call.disconnection_reason
        number_latest: list[str | None] = []
        if decision.retire_reason is None and health.reads_number(reason, attempt.from_number):
            window = health.number_health.window if health.number_health else 0
            latest = self._latest_ended(attempt.campaign_id, attempt.from_number)[:window]
            number_latest = [a.disconnection_reason for a in latest]
        campaign_latest: list[tuple[str, str | None]] = []
        if health.breaker is not None and health.reads_campaign(call.call_status, reason):
            since = self.campaigns[attempt.campaign_id].breaker_since
            latest = [
                a
                for a in self._latest_ended(attempt.campaign_id)
                if since is None or (a.settled_at is not None and a.settled_at > since)
            ][: health.breaker.window]
            campaign_latest = [(str(a.call_status), a.disconnection_reason) for a in latest]
        return health_verdict(health, number_latest, campaign_latest)

    def _apply_verdict(
        self, attempt: Attempt, decision: Decision, verdict: HealthVerdict, now: datetime
    ) -> CallEndRecord:
        campaign = self.campaigns[attempt.campaign_id]
        retire = decision.retire_reason or verdict.retire_reason
        retired = None
        number = attempt.from_number
        if retire is not None and number is not None and number not in campaign.retired:
            campaign.retired[number] = retire
            for lead in self._leads_of(campaign.id):
                if lead.from_number == number and lead.due:
                    lead.from_number = None  # its next claim gives it a usable one
            retired = retire
        pause = None
        if decision.pause_reason:
            pause = paused(Cause.ACCOUNT, decision.pause_reason)
        elif verdict.pause_reason:
            pause = paused(Cause.FAILURE_SPIKE, verdict.pause_reason)
        if pause is not None and self._transition(campaign, pause, now):
            return CallEndRecord(written=True, retired=retired, paused=pause)
        return CallEndRecord(written=True, retired=retired)
