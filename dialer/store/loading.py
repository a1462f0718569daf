"""Writing a lead list into the store: raw rows in batches, under one rule — a known lead is
rewritten only while it has no history, and only if what its row says changed.

Both databases take raw rows: binding a million rows through SQLAlchemy costs more than
everything else in a load."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.domain.states import DUE_LEAD_STATES, LeadState, suppressed_by
from dialer.inputs.leads import Lead
from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase, count_rows
from dialer.store.outbox_writes import write_leads_finished
from dialer.store.schema import leads

_LEAD_COLUMNS = (
    "campaign_id, lead_key, to_number, timezone, zones, dynamic_variables, call_metadata, "
    "content_hash, source_line, consent_at, states, alternates"
)
_LEAD_UPSERT_RULE = """
ON CONFLICT (campaign_id, lead_key) DO UPDATE SET
    to_number = excluded.to_number, timezone = excluded.timezone, zones = excluded.zones,
    dynamic_variables = excluded.dynamic_variables, call_metadata = excluded.call_metadata,
    content_hash = excluded.content_hash, source_line = excluded.source_line,
    consent_at = excluded.consent_at, states = excluded.states,
    alternates = excluded.alternates,
    updated_at = excluded.updated_at
WHERE leads.content_hash <> excluded.content_hash AND leads.state = 'pending'
  AND leads.attempts = 0
"""
# SQLite: executemany of one row each (the rule's WHERE needs the VALUES form).
_SQLITE_LEAD_UPSERT = f"""
INSERT INTO leads ({_LEAD_COLUMNS}, state, attempts, next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
{_LEAD_UPSERT_RULE}"""
# Postgres: COPY the batch into a temporary table, then one INSERT … SELECT.
_LEAD_LOAD_TABLE = """
CREATE TEMPORARY TABLE IF NOT EXISTS lead_load (
    campaign_id integer, lead_key text, to_number text, timezone text, zones text,
    dynamic_variables jsonb, call_metadata jsonb, content_hash text, source_line integer,
    consent_at timestamptz, states text, alternates jsonb
) ON COMMIT DROP
"""
_LEAD_LOAD_INSERT = f"""
INSERT INTO leads ({_LEAD_COLUMNS}, state, attempts, next_attempt_at, created_at, updated_at)
SELECT {_LEAD_COLUMNS}, 'pending', 0, $1, $1, $1 FROM lead_load
"""
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class LeadRecord(NamedTuple):
    """A lead as the row values both writers take (in _LEAD_COLUMNS order)."""

    campaign_id: int
    lead_key: str
    to_number: str
    timezone: str | None
    zones: str
    dynamic_variables: str  # JSON
    call_metadata: str  # JSON
    content_hash: str
    source_line: int
    consent_at: datetime | None
    states: str
    alternates: str | None  # JSON


def lead_record(campaign_id: int, lead: Lead) -> LeadRecord:
    """A lead as the row values both writers take (in _LEAD_COLUMNS order). The content hash
    is a digest of what the row says, so a reload rewrites only rows that changed."""
    variables = _JSON.encode(lead.dynamic_variables) if lead.dynamic_variables else "{}"
    metadata = _JSON.encode(lead.metadata) if lead.metadata else "{}"
    consent = lead.consent_at.isoformat() if lead.consent_at else ""
    alternates = _JSON.encode([a.as_json() for a in lead.alternates]) if lead.alternates else None
    payload = "\x1f".join(
        (
            lead.to_number,
            lead.timezone or "",
            lead.zones,
            variables,
            metadata,
            consent,
            lead.states,
            alternates or "",
        )
    )
    digest = hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()
    return LeadRecord(
        campaign_id,
        lead.key,
        lead.to_number,
        lead.timezone,
        lead.zones,
        variables,
        metadata,
        digest,
        lead.line,
        lead.consent_at,
        lead.states,
        alternates,
    )


def _sqlite_timestamp(conn: AsyncConnection, moment: datetime | None) -> Any:
    """`moment` exactly as SQLAlchemy stores a timestamp on SQLite, for raw statements."""
    process = leads.c.created_at.type.bind_processor(conn.dialect)
    return moment if process is None or moment is None else process(moment)


class LoadingQueries(StoreBase):
    async def insert_leads(
        self,
        conn: AsyncConnection,
        records: list[LeadRecord],
        now: datetime,
        *,
        campaign_is_new: bool = False,
    ) -> None:
        """Insert new leads (as `lead_record` makes them); rewrite a known lead only while it
        has no history.

        `campaign_is_new`: the campaign had no leads when this transaction locked it, and the
        batches carry no key twice, so nothing can conflict and Postgres may skip the
        conflict checks (about a quarter of its work in a first load)."""
        if not records:
            return
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if self.is_postgres:
            await driver.execute(_LEAD_LOAD_TABLE)
            await driver.copy_records_to_table(
                "lead_load", records=records, columns=_LEAD_COLUMNS.split(", ")
            )
            rule = "" if campaign_is_new else _LEAD_UPSERT_RULE
            await driver.execute(_LEAD_LOAD_INSERT + rule, now)
            await driver.execute("TRUNCATE lead_load")
        else:
            stamp = _sqlite_timestamp(conn, now)
            rows = [
                (*record[:9], _sqlite_timestamp(conn, record[9]), *record[10:], stamp, stamp, stamp)
                for record in records
            ]
            await driver.executemany(_SQLITE_LEAD_UPSERT, rows)

    async def refresh_statistics(self) -> None:
        """After a large load: Postgres plans the claim from fresh statistics at once (until
        autoanalyze comes by, a planner that believes the table empty scans a million rows
        per claim). Sampled: a fraction of a second at a million leads."""
        if self.is_postgres:
            async with self.engine.connect() as conn:
                await conn.execute(text("ANALYZE leads"))
                await conn.commit()

    @rides_out_outages
    async def lead_count(self, campaign_id: int) -> int:
        """How many leads the campaign has."""
        async with self.engine.connect() as conn:
            return await self.count_leads(conn, campaign_id)

    async def count_leads(self, conn: AsyncConnection, campaign_id: int) -> int:
        return await count_rows(conn, leads, leads.c.campaign_id == campaign_id)

    async def has_leads(self, conn: AsyncConnection, campaign_id: int) -> bool:
        """Whether the campaign has a lead (one index probe, where a count reads them all)."""
        found = await conn.execute(
            select(leads.c.id).where(leads.c.campaign_id == campaign_id).limit(1)
        )
        return found.first() is not None

    async def skip_suppressed(
        self, conn: AsyncConnection, campaign_id: int, sources: dict[str, str], now: datetime
    ) -> int:
        """Leads of the campaign still waiting whose number is on one of its suppression files
        end `skipped`, the file named as the reason. Returns how many."""
        by_file: dict[str, list[str]] = {}
        for number, source in sources.items():
            by_file.setdefault(source, []).append(number)
        skipped = 0
        for source, numbers in by_file.items():
            for start in range(0, len(numbers), 1000):
                result = await conn.execute(
                    leads.update()
                    .where(leads.c.campaign_id == campaign_id)
                    .where(leads.c.state.in_(DUE_LEAD_STATES))
                    .where(leads.c.to_number.in_(numbers[start : start + 1000]))
                    .values(
                        state=LeadState.SKIPPED, skip_reason=suppressed_by(source), updated_at=now
                    )
                    .returning(leads.c.campaign_id, leads.c.id)
                )
                finished = [(int(c), int(i)) for c, i in result]
                await write_leads_finished(conn, finished, now)
                skipped += len(finished)
        return skipped
