"""Recording what became of an attempt: placed, in doubt, not placed, or its call's end — each
in one short transaction fenced on the claim, with the lead's next state as the domain decided
it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.call_end import HealthRules, HealthVerdict, health_verdict
from dialer.domain.calls import CallEnd
from dialer.domain.lifecycle import Cause, Transition, paused
from dialer.domain.policy import Decision
from dialer.domain.states import (
    LIVE_ATTEMPT_STATES,
    UNSETTLED_ATTEMPT_STATES,
    AttemptState,
    LeadState,
)
from dialer.store.availability import rides_out_outages
from dialer.store.base import claim_fence
from dialer.store.campaigns import write_transition
from dialer.store.notifications import NotificationQueries
from dialer.store.outbox_writes import write_settle_events
from dialer.store.records import Attempt
from dialer.store.schema import attempts, campaigns, leads, suppressions


class SettlingQueries(NotificationQueries):
    async def _fenced_attempt_update(
        self,
        conn: AsyncConnection,
        attempt: Attempt,
        worker_id: str,
        from_states: tuple[AttemptState, ...],
        values: dict[str, Any],
    ) -> bool:
        result = await conn.execute(
            attempts.update()
            .where(*claim_fence(attempt.attempt_id, worker_id, from_states))
            .values(**values)
        )
        return bool(result.rowcount)

    @rides_out_outages
    async def record_placed(
        self,
        attempt: Attempt,
        worker_id: str,
        call_id: str,
        call_status: str,
        lease_seconds: float,
    ) -> bool:
        """The create answered 2xx (or reconciliation found the call): follow it now.
        False when the lease was lost to another worker (then nothing is written)."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            ok = await self._fenced_attempt_update(
                conn,
                attempt,
                worker_id,
                UNSETTLED_ATTEMPT_STATES,
                {
                    "state": AttemptState.PLACED,
                    "call_id": call_id,
                    "call_status": call_status,
                    "sent_at": now,
                    "api_error": None,
                    "voicemail_action": attempt.voicemail_action,
                    "variant": attempt.variant,
                    "lease_expires_at": now + timedelta(seconds=lease_seconds),
                },
            )
            if ok:
                await conn.execute(
                    leads.update()
                    .where(leads.c.id == attempt.lead_id)
                    .values(state=LeadState.IN_CALL, updated_at=now)
                )
            return ok

    @rides_out_outages
    async def record_in_doubt(self, attempt: Attempt, worker_id: str, reason: str) -> bool:
        """A call may exist: hold the lead (and its slot) until reconciliation settles it."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            return await self._fenced_attempt_update(
                conn,
                attempt,
                worker_id,
                UNSETTLED_ATTEMPT_STATES,
                {"state": AttemptState.IN_DOUBT, "api_error": reason, "sent_at": now},
            )

    @rides_out_outages
    async def record_not_placed(
        self,
        attempt: Attempt,
        worker_id: str,
        decision: Decision,
        *,
        error: str | None,
        sent: bool = True,
    ) -> bool:
        """The answer proves no call exists: the attempt is closed with `error` and the lead
        takes the state `decision` gives it. An attempt never sent leaves no row at all."""
        async with self.transaction() as conn:
            await self._lock_before_lead(conn, attempt, decision)
            now = await self.now(conn)
            fence = claim_fence(attempt.attempt_id, worker_id, UNSETTLED_ATTEMPT_STATES)
            if sent:
                result = await conn.execute(
                    attempts.update()
                    .where(*fence)
                    .values(
                        state=AttemptState.NOT_PLACED,
                        api_error=error,
                        settled_at=now,
                        lease_expires_at=None,
                    )
                )
            else:
                result = await conn.execute(attempts.delete().where(*fence))
            if not result.rowcount:
                return False
            await self._write_lead_decision(conn, attempt, decision, now)
            await self._slot_freed(conn, attempt.campaign_id)
            await _write_events(conn, attempt, now, ended=sent)
            return True

    @rides_out_outages
    async def record_call_end(
        self,
        attempt: Attempt,
        worker_id: str,
        decision: Decision,
        call: CallEnd,
        health: HealthRules | None = None,
    ) -> CallEndRecord:
        """A followed call reached a terminal status: write it, the lead's next state (and the
        store-wide do-not-call entry) and — judged on the latest calls, read in this same
        transaction — what it does to its from-number and its campaign: one decision, one
        writer, one transaction."""
        async with self.transaction() as conn:
            await self._lock_before_lead(conn, attempt, decision)
            now = await self.now(conn)
            ok = await self._fenced_attempt_update(
                conn,
                attempt,
                worker_id,
                LIVE_ATTEMPT_STATES,
                {
                    "state": AttemptState.ENDED,
                    "call_status": call.call_status,
                    "disconnection_reason": call.disconnection_reason,
                    "started_at": call.started_at,
                    "ended_at": call.ended_at,
                    "duration_ms": call.duration_ms,
                    # what Retell adds after the end may have come first (a webhook): an
                    # end without it keeps it
                    **({"analysis": call.analysis} if call.analysis is not None else {}),
                    **({"recording_url": call.recording_url} if call.recording_url else {}),
                    "settled_at": now,
                    "lease_expires_at": None,
                },
            )
            if not ok:
                return CallEndRecord(written=False)
            await self._write_lead_decision(conn, attempt, decision, now, plan=True)
            await self._slot_freed(conn, attempt.campaign_id)
            if call.cost_cents is not None:
                await self._bill(conn, attempts.c.id == attempt.attempt_id, call.cost_cents)
            if decision.suppress_reason is not None:
                await conn.execute(
                    self._insert(suppressions)
                    .values(
                        to_number=attempt.to_number,
                        reason=decision.suppress_reason,
                        source=f"call {call.call_id}",
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                )
            verdict = await self._judge_health(conn, attempt, decision, call, health)
            record = await self._apply_verdict(conn, attempt, decision, verdict, now)
            await _write_events(conn, attempt, now, ended=True)  # with its cost, as written
            return record

    async def _judge_health(
        self,
        conn: AsyncConnection,
        attempt: Attempt,
        decision: Decision,
        call: CallEnd,
        health: HealthRules | None,
    ) -> HealthVerdict:
        """Number health and the failure-spike breaker on the latest calls, this one with them."""
        if health is None:
            return HealthVerdict()
        reason = call.disconnection_reason
        number_latest: list[str | None] = []
        from_number = attempt.from_number
        number_window = health.number_health.window if health.number_health else 0
        if decision.retire_reason is None and health.reads_number(reason, from_number):
            number_latest = await _latest_reasons_from(
                conn, attempt.campaign_id, from_number or "", number_window
            )
        campaign_latest: list[tuple[str, str | None]] = []
        if health.breaker is not None and health.reads_campaign(call.call_status, reason):
            campaign_latest = await _latest_call_outcomes(
                conn, attempt.campaign_id, health.breaker.window
            )
        return health_verdict(health, number_latest, campaign_latest)

    async def _apply_verdict(
        self,
        conn: AsyncConnection,
        attempt: Attempt,
        decision: Decision,
        verdict: HealthVerdict,
        now: datetime,
    ) -> CallEndRecord:
        """Retire the from-number and pause the campaign as decided; say what was done."""
        retire = decision.retire_reason or verdict.retire_reason
        retired = None
        if retire is not None and attempt.from_number is not None:
            campaign_id = attempt.campaign_id
            if await self._retire(conn, campaign_id, attempt.from_number, retire, now):
                retired = retire
        pause = None
        if decision.pause_reason:
            pause = paused(Cause.ACCOUNT, decision.pause_reason)
        elif verdict.pause_reason:
            pause = paused(Cause.FAILURE_SPIKE, verdict.pause_reason)
        if pause is not None and await write_transition(conn, attempt.campaign_id, pause, now):
            return CallEndRecord(written=True, retired=retired, paused=pause)
        return CallEndRecord(written=True, retired=retired)

    async def _lock_before_lead(
        self, conn: AsyncConnection, attempt: Attempt, decision: Decision
    ) -> None:
        """A lead due again is checked against a cancel under the campaign's lock: take it
        before any row, the order loads and claims keep (campaign lock, leads, campaign row)."""
        if decision.due_again:
            await self.lock_campaign(conn, attempt.campaign_id)

    async def _write_lead_decision(
        self,
        conn: AsyncConnection,
        attempt: Attempt,
        decision: Decision,
        now: datetime,
        *,
        plan: bool = False,
    ) -> None:
        """The lead's next state; `plan`: a call ended, so what its next attempt uses is the
        decision's (an attempt given back keeps its plan)."""
        values: dict[str, Any] = {
            "state": decision.state,
            "next_attempt_at": decision.next_attempt_at or now,
            "updated_at": now,
        }
        if decision.refund:
            values["attempts"] = leads.c.attempts - 1
        if decision.lead_reason is not None:
            values["skip_reason"] = decision.lead_reason
        values["wait_reason"] = decision.wait_reason
        if plan:
            values["next_plan"] = decision.next_plan
        if decision.next_number:
            values.update(await self._next_number(conn, attempt.lead_id))
            if decision.keep_attempts:  # a step's move: the lead's max_attempts still holds
                del values["attempts"]
        await conn.execute(leads.update().where(leads.c.id == attempt.lead_id).values(**values))
        if decision.due_again:  # only a lead due again can be caught by a cancel
            await self._skip_if_cancelled(conn, attempt.lead_id, now, events=False)

    async def _next_number(self, conn: AsyncConnection, lead_id: int) -> dict[str, Any]:
        """The lead's columns once it moves on to its next alternate number: that number, its
        zones and states, and a fresh attempt count."""
        row = (
            await conn.execute(
                select(leads.c.alternates, leads.c.number_index).where(leads.c.id == lead_id)
            )
        ).one()
        following = (row.alternates or [])[row.number_index]
        return {
            "to_number": following["to_number"],
            "zones": following["zones"],
            "states": following["states"],
            "number_index": row.number_index + 1,
            "attempts": 0,
        }

    @rides_out_outages
    async def record_later_details(
        self,
        call_id: str,
        analysis: dict[str, Any] | None,
        cost_cents: float | None = None,
        recording_url: str | None = None,
    ) -> None:
        """What Retell adds to a call after it ended (its analysis, its cost, its recording):
        each written when given, never erasing what is known."""
        values: dict[str, Any] = {
            name: value
            for name, value in (("analysis", analysis), ("recording_url", recording_url))
            if value is not None
        }
        if not values and cost_cents is None:
            return
        async with self.transaction() as conn:
            if values:
                await conn.execute(
                    attempts.update().where(attempts.c.call_id == call_id).values(**values)
                )
            if cost_cents is not None:
                await self._bill(conn, attempts.c.call_id == call_id, cost_cents)

    async def _bill(self, conn: AsyncConnection, which: Any, cents: float) -> None:
        """Record a call's cost once (only where none was known) and add it, with the call's
        time, to its campaign's spend."""
        billed = await conn.execute(
            attempts.update()
            .where(which)
            .where(attempts.c.cost_cents.is_(None))
            .values(cost_cents=cents)
            .returning(attempts.c.campaign_id, attempts.c.duration_ms)
        )
        for campaign_id, duration_ms in billed.all():
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(
                    spend_cents=campaigns.c.spend_cents + cents,
                    billed_calls=campaigns.c.billed_calls + 1,
                    billed_ms=campaigns.c.billed_ms + (duration_ms or 0),
                )
            )


@dataclass(frozen=True)
class CallEndRecord:
    """What recording a call's end did: `written` False when the lease was lost (nothing
    written); the from-number's retirement and the campaign's pause, when it decided them."""

    written: bool
    retired: str | None = None  # the reason the from-number was retired
    paused: Transition | None = None


async def _write_events(
    conn: AsyncConnection, attempt: Attempt, now: datetime, *, ended: bool
) -> None:
    """Last in a settle, so the events carry what it wrote: `attempt_ended` (when the attempt
    was sent), then `lead_finished` if the lead is in a final state now."""
    attempt_id = attempt.attempt_id if ended else None
    await write_settle_events(conn, attempt.campaign_id, attempt.lead_id, attempt_id, now)


async def _latest_call_outcomes(
    conn: AsyncConnection, campaign_id: int, limit: int
) -> list[tuple[str, str | None]]:
    """(call_status, disconnection_reason) of the campaign's latest ended calls, newest first,
    since its failure-spike breaker last started counting."""
    since = select(campaigns.c.breaker_since).where(campaigns.c.id == campaign_id).scalar_subquery()
    stmt = (
        select(attempts.c.call_status, attempts.c.disconnection_reason)
        .where(attempts.c.campaign_id == campaign_id)
        .where(attempts.c.settled_at.is_not(None))
        .where(attempts.c.state == AttemptState.ENDED)
        .where(or_(since.is_(None), attempts.c.settled_at > since))
        .order_by(attempts.c.settled_at.desc())
        .limit(limit)
    )
    return [(str(r[0]), r[1]) for r in await conn.execute(stmt)]


async def _latest_reasons_from(
    conn: AsyncConnection, campaign_id: int, from_number: str, limit: int
) -> list[str | None]:
    """Disconnection reasons of the latest ended calls from one from-number in this campaign,
    newest first (number health)."""
    stmt = (
        select(attempts.c.disconnection_reason)
        .where(attempts.c.campaign_id == campaign_id)
        .where(attempts.c.from_number == from_number)
        .where(attempts.c.state == AttemptState.ENDED)
        .order_by(attempts.c.settled_at.desc())
        .limit(limit)
    )
    return [r[0] for r in await conn.execute(stmt)]
