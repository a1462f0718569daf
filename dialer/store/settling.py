"""Recording what became of an attempt: placed, in doubt, not placed, or its call's end — each
in one short transaction fenced on the claim, with the lead's next state as the domain decided
it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.calls import CallEnd
from dialer.domain.policy import Decision
from dialer.domain.states import (
    LIVE_ATTEMPT_STATES,
    UNSETTLED_ATTEMPT_STATES,
    AttemptState,
    CampaignStatus,
    LeadState,
)
from dialer.store.availability import rides_out_outages
from dialer.store.base import claim_fence
from dialer.store.notifications import NotificationQueries
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
            return True

    @rides_out_outages
    async def record_call_end(
        self, attempt: Attempt, worker_id: str, decision: Decision, call: CallEnd
    ) -> bool:
        """A followed call reached a terminal status: write it and the lead's next state (and
        the store-wide do-not-call entry, and the campaign's pause, if the decision says so)."""
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
                return False
            await self._write_lead_decision(conn, attempt, decision, now)
            await self._slot_freed(conn, attempt.campaign_id)
            if decision.retire_reason is not None and attempt.from_number is not None:
                await self._retire(
                    conn, attempt.campaign_id, attempt.from_number, decision.retire_reason, now
                )
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
            if decision.pause_reason:
                await self._change_status(
                    conn,
                    attempt.campaign_id,
                    CampaignStatus.PAUSED,
                    decision.pause_reason,
                    now,
                    only_if_active=True,
                )
            return True

    async def _lock_before_lead(
        self, conn: AsyncConnection, attempt: Attempt, decision: Decision
    ) -> None:
        """A lead due again is checked against a cancel under the campaign's lock: take it
        before any row, the order loads and claims keep (campaign lock, leads, campaign row)."""
        if decision.due_again:
            await self.lock_campaign(conn, attempt.campaign_id)

    async def _write_lead_decision(
        self, conn: AsyncConnection, attempt: Attempt, decision: Decision, now: datetime
    ) -> None:
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
        if decision.next_number:
            values.update(await self._next_number(conn, attempt.lead_id))
        await conn.execute(leads.update().where(leads.c.id == attempt.lead_id).values(**values))
        if decision.due_again:  # only a lead due again can be caught by a cancel
            await self._skip_if_cancelled(conn, attempt.lead_id, now)

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
