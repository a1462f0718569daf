"""The rows `dialer export` writes, as statements: one per lead (its latest attempt, its last
connected call's outcome, its spend) and one per attempt. Their field names are the export's
columns, defined here once; the results outbox snapshots the same rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from dialer.domain.calls import CallStatus
from dialer.store.schema import attempts, leads

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
    _last.c.variant,
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
