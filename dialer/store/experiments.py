"""An experiment's counts: per variant, the funnel of its leads (dialer.domain.experiment)
and what their calls cost; and connect rate by (state, local weekday, local hour).

One pass over the campaign's leads and their attempts, in lead order, folded as it streams
(memory per variant, not per lead). A lead's variant is the one its attempts recorded (the
latest), else the one `assign_variant` gives it — the same value a claim records, since the
assignment is a hash of the campaign's name and the lead's id. Local time and the goal are
judged here in Python, the same on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from dialer.domain.calls import CallStatus
from dialer.domain.experiment import Funnel, Heatmap, add_lead, local_slot
from dialer.domain.goal import Goal
from dialer.domain.variants import Variant, lead_variant
from dialer.store.base import StoreBase
from dialer.store.export_rows import RECORDED_VARIANT
from dialer.store.schema import attempts, leads

UNKNOWN_STATE = "unknown"
_ROWS = (
    select(
        leads.c.id.label("lead_id"),
        leads.c.lead_key,
        leads.c.zones,
        leads.c.states,
        attempts.c.variant,
        attempts.c.state,
        attempts.c.call_status,
        attempts.c.duration_ms,
        attempts.c.analysis,
        attempts.c.cost_cents,
        attempts.c.created_at,
    )
    .select_from(leads.outerjoin(attempts, attempts.c.lead_id == leads.c.id))
    .order_by(leads.c.id, attempts.c.created_at, attempts.c.id)
)


@dataclass(frozen=True)
class ExperimentCounts:
    funnels: dict[str, Funnel]  # by variant, in the campaign's order
    heatmap: Heatmap


class ExperimentQueries(StoreBase):
    async def experiment_counts(
        self, campaign_id: int, campaign_name: str, variants: Sequence[Variant], goal: Goal | None
    ) -> ExperimentCounts:
        """Per variant (none: one funnel named after the campaign), the funnel of its leads
        and their calls' cost; connect rate by state, local weekday and hour of placed calls."""
        funnels = {v.name: Funnel() for v in variants} or {campaign_name: Funnel()}
        heatmap = Heatmap()
        stmt = _ROWS.where(leads.c.campaign_id == campaign_id).execution_options(yield_per=1000)
        lead: Any = None
        rows: list[dict[str, Any]] = []

        def close_lead() -> None:
            if lead is None:
                return
            recorded = next((r["variant"] for r in reversed(rows) if r["variant"]), None)
            name = lead_variant(recorded, campaign_name, lead["lead_key"], variants)
            funnel = funnels.setdefault(name or campaign_name, Funnel())  # or since renamed
            add_lead(funnel, rows, goal)

        async with self.engine.connect() as conn:
            result = await conn.stream(stmt)
            async for row in result:
                data = dict(row._mapping)
                if lead is None or data["lead_id"] != lead["lead_id"]:
                    close_lead()
                    lead, rows = data, []
                if data["state"] is None:
                    continue  # a lead without attempts
                rows.append(data)
                if data["call_status"] is not None:
                    weekday, hour = local_slot(data["zones"] or "", data["created_at"])
                    state = (data["states"] or "").split("|")[0] or UNKNOWN_STATE
                    heatmap.add(state, weekday, hour, data["call_status"] == CallStatus.ENDED)
        close_lead()
        return ExperimentCounts(funnels, heatmap)

    async def recorded_variants(self, campaign_id: int) -> dict[str, int]:
        """The campaign's dialed leads by the variant their attempts recorded (the latest)."""
        per_lead = (
            select(RECORDED_VARIANT.label("variant"))
            .where(leads.c.campaign_id == campaign_id)
            .subquery()
        )
        stmt = select(per_lead.c.variant, func.count()).group_by(per_lead.c.variant)
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt)
            return {name: int(n) for name, n in rows if name is not None}
