"""Reading a campaign's progress: counts for the runner and `dialer status`, and the rows
`dialer export` writes (their field names are the export's columns, defined here once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select, tuple_

from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.calls import CallStatus
from dialer.domain.campaign import DEFAULT_COST_PER_MINUTE
from dialer.domain.pacing import Budget
from dialer.domain.states import (
    DUE_LEAD_STATES,
    LIVE_ATTEMPT_STATES,
    TERMINAL_LEAD_STATES,
    UNFINISHED_LEAD_STATES,
    AttemptState,
    LeadState,
)
from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase, aware, count_rows
from dialer.store.export_rows import ATTEMPT_EXPORT, LEAD_EXPORT, campaign_variants, with_variant
from dialer.store.records import CampaignSummary, FromNumberStats
from dialer.store.schema import attempts, campaigns, leads, retired_numbers
from dialer.store.spending import read_spend

UNKNOWN_OUTCOME = "unknown"
# What a create request proved, by the attempt states that record it (a placed call stays
# `placed` once it ended). An attempt still `dialing` has no answer yet.
REQUEST_OUTCOMES = {
    "placed": (AttemptState.PLACED, AttemptState.ENDED),
    "not_placed": (AttemptState.NOT_PLACED,),
    "in_doubt": (AttemptState.IN_DOUBT,),
}


def request_outcomes(by_attempt_state: dict[str, int]) -> dict[str, int]:
    """Create requests by what their answer proved: placed, not_placed, in_doubt."""
    return {
        outcome: sum(by_attempt_state.get(state, 0) for state in states)
        for outcome, states in REQUEST_OUTCOMES.items()
    }


class ReportQueries(StoreBase):
    @rides_out_outages
    async def live_attempts(self, campaign_id: int) -> int:
        async with self.engine.connect() as conn:
            return await self._live_count(conn, campaign_id)

    @rides_out_outages
    async def in_doubt_count(self, campaign_id: int) -> int:
        async with self.engine.connect() as conn:
            return await count_rows(
                conn,
                attempts,
                attempts.c.campaign_id == campaign_id,
                attempts.c.state == AttemptState.IN_DOUBT,
            )

    @rides_out_outages
    async def has_unfinished_leads(self, campaign_id: int) -> bool:
        """Whether any lead of the campaign is not yet completed, failed or skipped (one index
        probe: asked every second, it must not count a million leads)."""
        unfinished = (
            select(leads.c.id)
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.state.in_(UNFINISHED_LEAD_STATES))
            .limit(1)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(unfinished)).first() is not None

    @rides_out_outages
    async def next_due_at(
        self, campaign_id: int, places: PlaceFilter | None = None
    ) -> datetime | None:
        """When the next lead (of the given places) is due."""
        async with self.engine.connect() as conn:
            stmt = (
                select(func.min(leads.c.next_attempt_at))
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state.in_(DUE_LEAD_STATES))
            )
            if places is not None:
                stmt = stmt.where(tuple_(leads.c.zones, leads.c.states).in_(places.places_to_read))
            return aware((await conn.execute(stmt)).scalar_one())

    @rides_out_outages
    async def from_number_report(self, campaign_id: int) -> list[FromNumberStats]:
        """Per from-number of the campaign: calls, calls that connected, and whether (and why)
        it is retired."""
        connected = func.sum(case((attempts.c.call_status == CallStatus.ENDED, 1), else_=0))
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(attempts.c.from_number, func.count(), connected)
                .where(attempts.c.campaign_id == campaign_id)
                .where(attempts.c.from_number.is_not(None))
                .where(attempts.c.state == AttemptState.ENDED)
                .group_by(attempts.c.from_number)
            )
            calls = {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}
            retired = {
                r.number: r.reason
                for r in await conn.execute(
                    select(retired_numbers.c.number, retired_numbers.c.reason).where(
                        retired_numbers.c.campaign_id == campaign_id
                    )
                )
            }
        return [
            FromNumberStats(n, *calls.get(n, (0, 0)), retired.get(n))
            for n in sorted(set(calls) | set(retired))
        ]

    @rides_out_outages
    async def waiting_by_place(self, campaign_id: int) -> dict[Place, int]:
        """Leads not yet done and not in a call, by place (zones and states: for calling
        hours and state rules)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(leads.c.zones, leads.c.states, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state.in_(DUE_LEAD_STATES))
                .group_by(leads.c.zones, leads.c.states)
            )
            return {Place(str(z), str(s)): int(count) for z, s, count in rows}

    @rides_out_outages
    async def summary(self, campaign_id: int) -> CampaignSummary:
        """Leads by state; calls (ended ones) by disconnection reason, apart from what the
        create requests proved (placed, not placed, in doubt); attempts and talk time."""
        # A call that ended without a reason is counted by Retell's status (`error`, …); an
        # attempt's own state is never a call's outcome.
        outcome = func.coalesce(
            attempts.c.disconnection_reason, attempts.c.call_status, UNKNOWN_OUTCOME
        )
        async with self.engine.connect() as conn:
            by_state = await conn.execute(
                select(leads.c.state, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .group_by(leads.c.state)
            )
            by_reason = await conn.execute(
                select(outcome, func.count())
                .where(attempts.c.campaign_id == campaign_id)
                .where(attempts.c.state == AttemptState.ENDED)
                .group_by(outcome)
            )
            by_attempt_state = await conn.execute(
                select(attempts.c.state, func.count())
                .where(attempts.c.campaign_id == campaign_id)
                .group_by(attempts.c.state)
            )
            totals = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(attempts.c.duration_ms), 0),
                        func.count().filter(attempts.c.state.in_(LIVE_ATTEMPT_STATES)),
                        func.count().filter(attempts.c.state == AttemptState.IN_DOUBT),
                        func.count().filter(attempts.c.call_status == CallStatus.ENDED),
                    ).where(attempts.c.campaign_id == campaign_id)
                )
            ).one()
            due = (
                await conn.execute(
                    select(func.min(leads.c.next_attempt_at))
                    .where(leads.c.campaign_id == campaign_id)
                    .where(leads.c.state.in_(DUE_LEAD_STATES))
                )
            ).scalar_one()
            config = (
                await conn.execute(select(campaigns.c.config).where(campaigns.c.id == campaign_id))
            ).scalar_one()
            spend = await read_spend(conn, campaign_id, await self.now(conn), 1.0)
            prior = float((config or {}).get("cost_per_minute") or DEFAULT_COST_PER_MINUTE)
            pending, stale = Budget(0.0, prior * 100).estimate(spend)
            skipped = await conn.execute(
                select(leads.c.skip_reason, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state == LeadState.SKIPPED)
                .group_by(leads.c.skip_reason)
            )
            waiting = await conn.execute(
                select(leads.c.wait_reason, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state.in_(DUE_LEAD_STATES))
                .where(leads.c.wait_reason.is_not(None))
                .group_by(leads.c.wait_reason)
            )
        return CampaignSummary(
            leads_by_state={s: int(n) for s, n in by_state},
            calls_by_reason={str(r): int(n) for r, n in by_reason},
            requests_by_outcome=request_outcomes({str(s): int(n) for s, n in by_attempt_state}),
            attempts=int(totals[0]),
            live_attempts=int(totals[2]),
            in_doubt=int(totals[3]),
            total_duration_ms=int(totals[1]),
            next_due_at=aware(due),
            spend_cents=spend.cents,
            pending_cents=pending + stale,
            connected_calls=int(totals[4]),
            skipped_by_reason={str(r): int(n) for r, n in skipped},
            waiting_by_reason={str(r): int(n) for r, n in waiting},
        )

    async def export_lead_rows(self, campaign_id: int) -> AsyncIterator[dict[str, Any]]:
        """One row per lead with its latest attempt (streamed), keyed by LEAD_ROW_KEYS."""
        stmt = LEAD_EXPORT.where(leads.c.campaign_id == campaign_id).order_by(leads.c.id)
        async with self.engine.connect() as conn:
            name, variants = (await campaign_variants(conn, [campaign_id])).get(
                campaign_id, ("", [])
            )
        async for data in self._stream(stmt):
            if data["state"] in TERMINAL_LEAD_STATES:
                data["next_attempt_at"] = data["wait_reason"] = None
            yield with_variant(data, name, variants)

    @rides_out_outages
    async def lead_rows_page(
        self, campaign_id: int, state: LeadState | None, after: int | None, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of the export's lead rows (in lead order, of one state if given) after the
        lead `after`, and the cursor of the next page (None on the last one). Keyset
        pagination: a page costs the same at the millionth lead as at the first."""
        stmt = (
            LEAD_EXPORT.add_columns(leads.c.id.label("page_key"))
            .where(leads.c.campaign_id == campaign_id)
            .order_by(leads.c.id)
            .limit(limit + 1)
        )
        if state is not None:
            stmt = stmt.where(leads.c.state == state)
        if after is not None:
            stmt = stmt.where(leads.c.id > after)
        async with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(stmt)]
            name, variants = (await campaign_variants(conn, [campaign_id])).get(
                campaign_id, ("", [])
            )
        rows = [with_variant(row, name, variants) for row in rows]
        more = len(rows) > limit
        rows = rows[:limit]
        keys = [row.pop("page_key") for row in rows]
        for data in rows:
            if data["state"] in TERMINAL_LEAD_STATES:
                data["next_attempt_at"] = data["wait_reason"] = None
        return rows, (int(keys[-1]) if more else None)

    async def export_attempt_rows(self, campaign_id: int) -> AsyncIterator[dict[str, Any]]:
        """One row per attempt (streamed), keyed by ATTEMPT_ROW_KEYS."""
        stmt = ATTEMPT_EXPORT.where(attempts.c.campaign_id == campaign_id).order_by(
            attempts.c.created_at, attempts.c.id
        )
        async for data in self._stream(stmt):
            yield data

    async def report_attempt_facts(self, campaign_id: int) -> AsyncIterator[dict[str, Any]]:
        """What the campaign report charts, per attempt (streamed): the lead's zone key, when
        the attempt was made and ended, its call's status and reason, length and cost."""
        stmt = (
            select(
                leads.c.zones.label("zone_key"),
                attempts.c.created_at,
                attempts.c.settled_at,
                attempts.c.call_status,
                attempts.c.disconnection_reason,
                attempts.c.duration_ms,
                attempts.c.cost_cents,
            )
            .join(leads, leads.c.id == attempts.c.lead_id)
            .where(attempts.c.campaign_id == campaign_id)
            .order_by(attempts.c.created_at, attempts.c.id)
        )
        async for data in self._stream(stmt):
            yield data

    @rides_out_outages
    async def dials_in_last_minute(self, campaign_id: int) -> int:
        async with self.engine.connect() as conn:
            since = await self.now(conn) - timedelta(minutes=1)
            return await count_rows(
                conn,
                attempts,
                attempts.c.campaign_id == campaign_id,
                attempts.c.created_at > since,
            )

    @rides_out_outages
    async def attempts_per_lead(self, campaign_id: int) -> dict[int, int]:
        """How many leads had 0, 1, 2, … attempts."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(leads.c.attempts, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .group_by(leads.c.attempts)
            )
            return {int(n): int(count) for n, count in rows}

    async def _stream(self, stmt: Select[Any]) -> AsyncIterator[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.stream(stmt.execution_options(yield_per=1000))
            async for row in result:
                yield dict(row._mapping)
