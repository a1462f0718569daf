"""Writing results-outbox events in the transaction of the change each reports: an attempt's
end (`attempt_ended`), a lead's final state (`lead_finished`), each with the lead's (or
attempt's) row of `dialer export` as the change left it; only for campaigns whose
results_webhook asks for the event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.results_push import ATTEMPT_ENDED, LEAD_FINISHED
from dialer.domain.states import TERMINAL_LEAD_STATES
from dialer.store.export_rows import ATTEMPT_EXPORT, LEAD_EXPORT, campaign_variants, with_variant
from dialer.store.schema import attempts, campaigns, leads, results_outbox

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"  # an event's delivery state
_CHUNK = 500  # leads snapshotted per statement when many finish at once (a cancel)


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in row.items()}


async def _webhook_events(
    conn: AsyncConnection, campaign_ids: Iterable[int]
) -> dict[int, set[str]]:
    """The events each campaign's results_webhook asks for (campaigns without one: absent)."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return {}
    hook = campaigns.c.config["results_webhook"]
    rows = await conn.execute(select(campaigns.c.id, hook).where(campaigns.c.id.in_(ids)))
    return {
        int(cid): set(value.get("events") or ()) for cid, value in rows if isinstance(value, dict)
    }


async def wants_lead_finished(conn: AsyncConnection, campaign_id: int) -> bool:
    """Whether the campaign's results_webhook asks for lead_finished."""
    return LEAD_FINISHED in (await _webhook_events(conn, [campaign_id])).get(campaign_id, ())


async def _insert_events(
    conn: AsyncConnection, kind: str, rows: Sequence[dict[str, Any]], now: datetime
) -> None:
    if rows:
        await conn.execute(
            results_outbox.insert(),
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "campaign_id": row.pop("_campaign"),
                    "lead_id": row.pop("_lead"),
                    "attempt_id": row.get("attempt_id"),
                    "kind": kind,
                    "payload": _json_safe(row),
                    "created_at": now,
                    "state": PENDING,
                    "next_try_at": now,
                }
                for row in rows
            ],
        )


async def write_settle_events(
    conn: AsyncConnection, campaign_id: int, lead_id: int, attempt_id: str | None, now: datetime
) -> None:
    """What a settle reports, once it wrote everything else: `attempt_ended` for the attempt
    (None: it was never sent), then `lead_finished` if the lead is in a final state now — each
    if the campaign asks (one look at its settings)."""
    asked = (await _webhook_events(conn, [campaign_id])).get(campaign_id)
    if not asked:
        return
    if attempt_id is not None and ATTEMPT_ENDED in asked:
        stmt = _with_keys(ATTEMPT_EXPORT, attempts.c.campaign_id, attempts.c.lead_id)
        rows = await conn.execute(stmt.where(attempts.c.id == attempt_id))
        await _insert_events(conn, ATTEMPT_ENDED, [dict(r._mapping) for r in rows], now)
    if LEAD_FINISHED in asked:
        await _insert_finished(conn, [lead_id], now)


async def write_leads_finished(
    conn: AsyncConnection, finished: Sequence[tuple[int, int]], now: datetime
) -> None:
    """`lead_finished` for each (campaign id, lead id) that just reached a final state (if its
    campaign asks); leads not in a final state are passed over."""
    if not finished:
        return
    asking = await _webhook_events(conn, (c for c, _ in finished))
    lead_ids = [lead for campaign, lead in finished if LEAD_FINISHED in asking.get(campaign, ())]
    await _insert_finished(conn, lead_ids, now)


async def _insert_finished(conn: AsyncConnection, lead_ids: Sequence[int], now: datetime) -> None:
    stmt = _with_keys(LEAD_EXPORT, leads.c.campaign_id, leads.c.id)
    for start in range(0, len(lead_ids), _CHUNK):
        chunk = lead_ids[start : start + _CHUNK]
        found = await conn.execute(
            stmt.where(leads.c.id.in_(chunk))
            .where(leads.c.state.in_(TERMINAL_LEAD_STATES))
            .order_by(leads.c.id)
        )
        rows = [dict(r._mapping) for r in found]
        named = await campaign_variants(conn, {r["_campaign"] for r in rows if not r["variant"]})
        for row in rows:  # a lead never placed: the variant it is assigned
            if row["_campaign"] in named:
                with_variant(row, *named[row["_campaign"]])
        await _insert_events(conn, LEAD_FINISHED, rows, now)


def _with_keys(stmt: Select[Any], campaign: Any, lead: Any) -> Select[Any]:
    return stmt.add_columns(campaign.label("_campaign"), lead.label("_lead"))
