"""The rows `dialer export` writes, as statements: one per lead (its latest attempt, its last
connected call's outcome, its spend) and one per attempt. Their field names are the export's
columns, defined here once; the results outbox snapshots the same rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.calls import CallStatus
from dialer.domain.variants import Variant, lead_variant
from dialer.store.schema import attempts, campaigns, leads

_last = attempts.alias("last")
_connected = attempts.alias("connected")
_spent = attempts.alias("spent")
# The lead's last connected call (Retell's status `ended`: not `not_connected` or `error`):
# where its outcome comes from.
_LAST_CONNECTED = (
    select(_connected.c.id)
    .where(_connected.c.lead_id == leads.c.id)
    .where(_connected.c.call_status == CallStatus.ENDED)
    .order_by(_connected.c.created_at.desc())
    .limit(1)
    .correlate(leads)
    .scalar_subquery()
)
_outcome = attempts.alias("outcome")
_recorded = attempts.alias("recorded")
# The variant the lead's latest attempt that recorded one was placed for (an attempt handed
# back unsent records none): its experiment arm, as the experiment's report counts it.
RECORDED_VARIANT = (
    select(_recorded.c.variant)
    .where(_recorded.c.lead_id == leads.c.id)
    .where(_recorded.c.variant.is_not(None))
    .order_by(_recorded.c.created_at.desc(), _recorded.c.id.desc())
    .limit(1)
    .correlate(leads)
    .scalar_subquery()
)
# One row per lead with its latest attempt, its last connected call's outcome, its spend.
LEAD_EXPORT: Select[Any] = select(
    leads.c.lead_key.label("lead_id"),
    leads.c.to_number,
    leads.c.state,
    leads.c.attempts,
    _last.c.call_id.label("last_call_id"),
    _last.c.call_status.label("last_call_status"),
    _last.c.disconnection_reason.label("last_disconnection_reason"),
    _last.c.created_at.label("last_attempt_at"),
    leads.c.next_attempt_at,
    _last.c.duration_ms,
    leads.c.dynamic_variables,
    leads.c.skip_reason,
    leads.c.wait_reason,
    _outcome.c.analysis,
    _outcome.c.recording_url,
    _outcome.c.call_id.label("outcome_call_id"),
    select(func.sum(_spent.c.cost_cents))
    .where(_spent.c.lead_id == leads.c.id)
    .correlate(leads)
    .scalar_subquery()
    .label("cost_cents"),
    _last.c.cost_cents.label("last_cost_cents"),
    leads.c.from_number,
    RECORDED_VARIANT.label("variant"),
).select_from(
    leads.outerjoin(_last, _last.c.id == leads.c.last_attempt_id).outerjoin(
        _outcome, _outcome.c.id == _LAST_CONNECTED
    )
)
# One row per attempt.
ATTEMPT_EXPORT: Select[Any] = select(
    attempts.c.id.label("attempt_id"),
    leads.c.lead_key.label("lead_id"),
    attempts.c.number.label("attempt"),
    attempts.c.to_number,
    attempts.c.state,
    attempts.c.call_id,
    attempts.c.call_status,
    attempts.c.disconnection_reason,
    attempts.c.api_error,
    attempts.c.created_at,
    attempts.c.started_at,
    attempts.c.ended_at,
    attempts.c.duration_ms,
    attempts.c.analysis,
    attempts.c.recording_url,
    attempts.c.cost_cents,
    attempts.c.from_number,
    attempts.c.voicemail_action,
    attempts.c.variant,
).join(leads, leads.c.id == attempts.c.lead_id)

# The rows' keys (the export turns analysis and cents into its own columns:
# dialer.reporting.export).
LEAD_ROW_KEYS = tuple(c.name for c in LEAD_EXPORT.selected_columns)
ATTEMPT_ROW_KEYS = tuple(c.name for c in ATTEMPT_EXPORT.selected_columns)


# A campaign's name and variants, by id: what a lead row's variant is filled in from.
CampaignVariants = dict[int, tuple[str, list[Variant]]]


async def campaign_variants(conn: AsyncConnection, campaign_ids: Iterable[int]) -> CampaignVariants:
    """The name and variants of each campaign (one statement; none without ids)."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return {}
    stmt = select(campaigns.c.id, campaigns.c.name, campaigns.c.config["variants"]).where(
        campaigns.c.id.in_(ids)
    )
    return {
        int(cid): (str(name), [Variant.model_validate(v) for v in listed or ()])
        for cid, name, listed in await conn.execute(stmt)
    }


def with_variant(row: dict[str, Any], name: str, variants: list[Variant]) -> dict[str, Any]:
    """A lead row with its variant: the one recorded, else the one its lead id is assigned
    (a lead never placed: skipped, cancelled, waiting) — never empty in an experiment."""
    row["variant"] = lead_variant(row["variant"], name, str(row["lead_id"]), variants)
    return row
