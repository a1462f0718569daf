"""Store: every query the application makes, in one place. Short transactions only."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialer.campaign import Campaign
from dialer.leads import Lead
from dialer.store.schema import (
    DUE_LEAD_STATES,
    LIVE_ATTEMPT_STATES,
    TERMINAL_LEAD_STATES,
    attempts,
    campaigns,
    leads,
    suppressions,
)

_CAMPAIGN_LOCK = 0x6469  # advisory lock class for per-campaign claim serialization


@dataclass(frozen=True)
class ClaimedLead:
    """A lead claimed for one call: its attempt row is written; `send_at` is its dial slot."""

    lead_id: int
    attempt_id: str
    attempt_number: int
    to_number: str
    zones: str
    dynamic_variables: dict[str, str]
    call_metadata: dict[str, Any]
    send_at: datetime


@dataclass(frozen=True)
class ZoneFilter:
    """Calling hours as a claim sees them: zone keys open now, and keys that never open
    (with the reason their leads are skipped). Leads of other keys wait."""

    dialable: frozenset[str]
    never: dict[str, str]

    @property
    def keys_to_read(self) -> list[str]:
        """The keys a claim reads: open now, or never open (those leads are skipped)."""
        return [*self.dialable, *self.never]


@dataclass(frozen=True)
class Claim:
    """What a claim got. `retry_in`: seconds until pacing or a hold allows the next claim."""

    leads: list[ClaimedLead]
    now: datetime
    status: str
    retry_in: float | None = None
    free_slots: int = 0


@dataclass(frozen=True)
class LiveAttempt:
    """An attempt taken over from an expired lease (or our own, after a restart)."""

    attempt_id: str
    lead_id: int
    attempt_number: int
    state: str
    call_id: str | None
    to_number: str
    dynamic_variables: dict[str, str]
    call_metadata: dict[str, Any]
    created_at: datetime
    zones: str = ""


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    status: str
    status_reason: str | None
    config: dict[str, Any]

    def settings(self) -> Campaign:
        """The campaign's stored settings, typed (its leads live in the leads table)."""
        return Campaign.model_validate({**self.config, "leads": []})


# Loading leads. Both databases take raw rows (binding a million rows through SQLAlchemy costs
# more than everything else in a load) under one rule: a known lead is rewritten only while it
# has no history, and only if what its row says changed.
_LEAD_COLUMNS = (
    "campaign_id, lead_key, to_number, timezone, zones, dynamic_variables, call_metadata, "
    "content_hash, source_line"
)
_LEAD_UPSERT_RULE = """
ON CONFLICT (campaign_id, lead_key) DO UPDATE SET
    to_number = excluded.to_number, timezone = excluded.timezone, zones = excluded.zones,
    dynamic_variables = excluded.dynamic_variables, call_metadata = excluded.call_metadata,
    content_hash = excluded.content_hash, source_line = excluded.source_line,
    updated_at = excluded.updated_at
WHERE leads.content_hash <> excluded.content_hash AND leads.state = 'pending'
  AND leads.attempts = 0
"""
# SQLite: executemany of one row each (the rule's WHERE needs the VALUES form).
_SQLITE_LEAD_UPSERT = f"""
INSERT INTO leads ({_LEAD_COLUMNS}, state, attempts, next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
{_LEAD_UPSERT_RULE}"""
# Postgres: COPY the batch into a temporary table, then one INSERT … SELECT.
_LEAD_LOAD_TABLE = """
CREATE TEMPORARY TABLE IF NOT EXISTS lead_load (
    campaign_id integer, lead_key text, to_number text, timezone text, zones text,
    dynamic_variables jsonb, call_metadata jsonb, content_hash text, source_line integer
) ON COMMIT DROP
"""
_LEAD_LOAD_INSERT = f"""
INSERT INTO leads ({_LEAD_COLUMNS}, state, attempts, next_attempt_at, created_at, updated_at)
SELECT {_LEAD_COLUMNS}, 'pending', 0, $1, $1, $1 FROM lead_load
"""
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))

LeadRecord = tuple[int, str, str, str | None, str, str, str, str, int]


def lead_record(campaign_id: int, lead: Lead) -> LeadRecord:
    """A lead as the row values both loaders write (in _LEAD_COLUMNS order). The content hash
    is a digest of what the row says, so a reload rewrites only rows that changed."""
    variables = _JSON.encode(lead.dynamic_variables) if lead.dynamic_variables else "{}"
    metadata = _JSON.encode(lead.metadata) if lead.metadata else "{}"
    payload = "\x1f".join((lead.to_number, lead.timezone or "", variables, metadata))
    digest = hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()
    return (
        campaign_id,
        lead.key,
        lead.to_number,
        lead.timezone,
        lead.zones,
        variables,
        metadata,
        digest,
        lead.line,
    )


_CAMPAIGN_COLUMNS = (
    campaigns.c.id,
    campaigns.c.name,
    campaigns.c.status,
    campaigns.c.status_reason,
    campaigns.c.config,
)


async def _count(conn: AsyncConnection, table: Any, *conditions: Any) -> int:
    """Rows of `table` matching every condition."""
    stmt = select(func.count()).select_from(table).where(*conditions)
    return int((await conn.execute(stmt)).scalar_one())


def _campaign_row(row: Any) -> CampaignRow:
    return CampaignRow(row.id, row.name, row.status, row.status_reason, row.config)


def _sqlite_timestamp(conn: AsyncConnection, moment: datetime) -> Any:
    """`moment` exactly as SQLAlchemy stores a timestamp on SQLite, for raw statements."""
    process = leads.c.created_at.type.bind_processor(conn.dialect)
    return moment if process is None else process(moment)


class Store:
    """Typed access to the store. Create with `open_store`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def now(self, conn: AsyncConnection | None = None) -> datetime:
        """The database's clock on Postgres (workers with skewed clocks agree); else ours."""
        if not self.is_postgres:
            return datetime.now(UTC)
        if conn is None:
            async with self.engine.connect() as own:
                value = (await own.execute(text("SELECT clock_timestamp()"))).scalar_one()
        else:
            value = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.is_postgres else sqlite_insert(table)

    # -- campaigns -------------------------------------------------------------------------

    async def upsert_campaign(
        self, conn: AsyncConnection, campaign: Campaign, source_path: str | None
    ) -> int:
        """Create the campaign or refresh its settings; returns its id."""
        now = await self.now(conn)
        config = campaign.model_dump(mode="json", exclude={"leads"})
        stmt = self._insert(campaigns).values(
            name=campaign.name,
            config=config,
            source_path=source_path,
            status="active",
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[campaigns.c.name],
            set_={"config": config, "source_path": source_path, "updated_at": now},
        ).returning(campaigns.c.id)
        return int((await conn.execute(stmt)).scalar_one())

    async def campaign_id(self, name: str) -> int | None:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(campaigns.c.id).where(campaigns.c.name == name))
            return int(found) if found is not None else None

    # -- loading ---------------------------------------------------------------------------

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
            await driver.executemany(
                _SQLITE_LEAD_UPSERT, [(*record, stamp, stamp, stamp) for record in records]
            )

    async def count_leads(self, conn: AsyncConnection, campaign_id: int) -> int:
        return await _count(conn, leads, leads.c.campaign_id == campaign_id)

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
                    .values(state="skipped", skip_reason=f"suppressed by {source}", updated_at=now)
                )
                skipped += result.rowcount
        return skipped

    # -- campaign state --------------------------------------------------------------------

    async def campaign(self, name_or_id: str | int) -> CampaignRow | None:
        column = campaigns.c.id if isinstance(name_or_id, int) else campaigns.c.name
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(*_CAMPAIGN_COLUMNS).where(column == name_or_id))
            ).one_or_none()
        if row is None:
            return None
        return _campaign_row(row)

    async def campaigns(self) -> list[CampaignRow]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(*_CAMPAIGN_COLUMNS).order_by(campaigns.c.id))
            return [_campaign_row(r) for r in rows]

    async def set_status(self, campaign_id: int, status: str, reason: str | None = None) -> None:
        async with self.transaction() as conn:
            now = await self.now(conn)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(status=status, status_reason=reason, updated_at=now)
            )

    async def cancel(self, campaign_id: int) -> int:
        """Cancel: no new dial; every lead still waiting ends `skipped`. Calls in progress are
        followed to their end by whoever holds them. Returns how many leads were skipped."""
        async with self.transaction() as conn:
            await self._lock_campaign(conn, campaign_id)  # no claim interleaves with this
            now = await self.now(conn)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(status="cancelled", status_reason="cancelled by a person", updated_at=now)
            )
            return await self._skip_as_cancelled(conn, leads.c.campaign_id == campaign_id, now)

    async def campaigns_to_serve(self) -> list[CampaignRow]:
        """What a worker serves: active campaigns, and any campaign with a live attempt whose
        lease expired (a dead worker's calls must still be followed to their end)."""
        async with self.engine.connect() as conn:
            now = await self.now(conn)
            orphaned = exists().where(
                (attempts.c.campaign_id == campaigns.c.id)
                & attempts.c.state.in_(LIVE_ATTEMPT_STATES)
                & (attempts.c.lease_expires_at < now)
            )
            rows = await conn.execute(
                select(*_CAMPAIGN_COLUMNS)
                .where((campaigns.c.status == "active") | orphaned)
                .order_by(campaigns.c.id)
            )
            return [_campaign_row(r) for r in rows]

    async def in_doubt_count(self, campaign_id: int) -> int:
        async with self.engine.connect() as conn:
            return await _count(
                conn,
                attempts,
                attempts.c.campaign_id == campaign_id,
                attempts.c.state == "in_doubt",
            )

    async def ping(self) -> None:
        """Raise unless the store answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def hold(self, campaign_id: int, seconds: float) -> None:
        """No new dial for this campaign, by any worker, for `seconds` (after a 429)."""
        async with self.transaction() as conn:
            until = await self.now(conn) + timedelta(seconds=seconds)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .where((campaigns.c.hold_until.is_(None)) | (campaigns.c.hold_until < until))
                .values(hold_until=until)
            )

    # -- claiming --------------------------------------------------------------------------

    async def claim(
        self,
        campaign_id: int,
        worker_id: str,
        *,
        limit: int,
        lease_seconds: float,
        account_cap: int | None = None,
        rate_scale: float = 1.0,
        horizon_seconds: float = 0.25,
        zones: ZoneFilter | None = None,
    ) -> Claim:
        """Claim due leads for dialing, within both ceilings, in one short transaction.

        The transaction is serialized per campaign (an advisory lock on Postgres, BEGIN
        IMMEDIATE on SQLite), so the slot count and the pacing row cannot be read stale by a
        concurrent claim. Each claimed lead gets an attempt row before any request is sent,
        and a dial slot `send_at` spaced 1/calls_per_second after the previous one,
        campaign-wide. With `zones`, only leads whose zone key is open now are claimed, and
        leads whose key never opens end `skipped`.
        """
        async with self.transaction() as conn:
            await self._lock_campaign(conn, campaign_id)
            row = (
                await conn.execute(
                    select(
                        campaigns.c.status,
                        campaigns.c.config,
                        campaigns.c.next_dial_at,
                        campaigns.c.hold_until,
                    ).where(campaigns.c.id == campaign_id)
                )
            ).one()
            now = await self.now(conn)
            if row.status != "active":
                return Claim([], now, row.status)
            if row.hold_until is not None and row.hold_until > now:
                return Claim([], now, row.status, (row.hold_until - now).total_seconds())
            pacing = row.config["pacing"]
            cap = int(pacing["max_concurrent_calls"])
            if account_cap is not None:
                cap = min(cap, account_cap)
            live = await self._live_count(conn, campaign_id)
            free = cap - live
            if free <= 0:
                return Claim([], now, row.status, None, 0)
            # timedelta counts whole microseconds: a rate above 1e6/s is "no rate ceiling"
            interval = max(
                timedelta(seconds=1.0 / (float(pacing["calls_per_second"]) * rate_scale)),
                timedelta(microseconds=1),
            )
            start = max(now, row.next_dial_at or now)
            horizon = now + timedelta(seconds=horizon_seconds)
            if start > horizon:
                return Claim([], now, row.status, (start - horizon).total_seconds(), free)
            by_rate = math.floor((horizon - start) / interval) + 1
            wanted = min(limit, free, by_rate)
            candidates = await self._due_candidates(conn, campaign_id, now, wanted, zones)
            per_day = row.config.get("max_attempts_per_number_per_day")
            deferred = (
                await self._defer_over_daily_limit(conn, candidates, int(per_day), now)
                if per_day
                else set()
            )
            claimed: list[ClaimedLead] = []
            skipped: dict[str, list[int]] = {}
            for candidate in candidates:
                reason = "do-not-call list" if candidate.suppressed else None
                if reason is None and zones is not None:
                    reason = zones.never.get(candidate.zones)
                if reason is not None:
                    skipped.setdefault(reason, []).append(candidate.id)
                    continue
                if candidate.id in deferred:
                    continue
                claimed.append(
                    ClaimedLead(
                        lead_id=candidate.id,
                        attempt_id=str(uuid.uuid4()),
                        attempt_number=candidate.attempts + 1,
                        to_number=candidate.to_number,
                        zones=candidate.zones,
                        dynamic_variables=candidate.dynamic_variables,
                        call_metadata=candidate.call_metadata,
                        send_at=start + interval * len(claimed),
                    )
                )
            for reason, ids in skipped.items():
                await conn.execute(
                    leads.update()
                    .where(leads.c.id.in_(ids))
                    .values(state="skipped", skip_reason=reason, updated_at=now)
                )
            if claimed:
                await self._write_claims(conn, campaign_id, worker_id, claimed, now, lease_seconds)
                await conn.execute(
                    campaigns.update()
                    .where(campaigns.c.id == campaign_id)
                    .values(next_dial_at=start + interval * len(claimed))
                )
            return Claim(claimed, now, row.status, None, free - len(claimed))

    async def _lock_campaign(self, conn: AsyncConnection, campaign_id: int) -> None:
        """Serialize this transaction with every other claim of the campaign (Postgres; on
        SQLite, BEGIN IMMEDIATE already serializes all writers)."""
        if self.is_postgres:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"),
                {"a": _CAMPAIGN_LOCK, "b": campaign_id},
            )

    async def reserve_dial_slot(self, campaign_id: int, rate_scale: float = 1.0) -> float:
        """Take the campaign's next dial slot outside a claim (a resend that settles an attempt
        in doubt is a dial too). Returns the seconds to wait before sending."""
        async with self.transaction() as conn:
            await self._lock_campaign(conn, campaign_id)
            row = (
                await conn.execute(
                    select(campaigns.c.config, campaigns.c.next_dial_at).where(
                        campaigns.c.id == campaign_id
                    )
                )
            ).one()
            now = await self.now(conn)
            rate = float(row.config["pacing"]["calls_per_second"]) * rate_scale
            start = max(now, row.next_dial_at or now)
            await conn.execute(
                campaigns.update()
                .where(campaigns.c.id == campaign_id)
                .values(next_dial_at=start + timedelta(seconds=1.0 / rate))
            )
            return (start - now).total_seconds()

    async def _live_count(self, conn: AsyncConnection, campaign_id: int) -> int:
        return await _count(
            conn,
            attempts,
            attempts.c.campaign_id == campaign_id,
            attempts.c.state.in_(LIVE_ATTEMPT_STATES),
        )

    async def _defer_over_daily_limit(
        self, conn: AsyncConnection, candidates: list[Any], per_day: int, now: datetime
    ) -> set[int]:
        """Candidates whose number had `per_day` calls in the last 24 hours, in any campaign,
        are due again when the oldest of those calls is a day old. Returns their lead ids."""
        numbers = {c.to_number for c in candidates}
        if not numbers:
            return set()
        since = now - timedelta(days=1)
        recent = await conn.execute(
            select(attempts.c.to_number, func.count(), func.min(attempts.c.created_at))
            .where(attempts.c.to_number.in_(numbers))
            .where(attempts.c.created_at > since)
            .where(attempts.c.state != "not_placed")
            .group_by(attempts.c.to_number)
        )
        full = {}
        for number, count, first in recent:
            if count >= per_day:
                oldest = first if first.tzinfo else first.replace(tzinfo=UTC)
                full[number] = oldest + timedelta(days=1)
        deferred = set()
        for candidate in candidates:
            due = full.get(candidate.to_number)
            if due is not None:
                deferred.add(candidate.id)
                await conn.execute(
                    leads.update()
                    .where(leads.c.id == candidate.id)
                    .values(next_attempt_at=due, updated_at=now)
                )
        return deferred

    async def _due_candidates(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        now: datetime,
        limit: int,
        zones: ZoneFilter | None = None,
    ) -> list[Any]:
        live_same_number = exists().where(
            and_(
                attempts.c.to_number == leads.c.to_number, attempts.c.state.in_(LIVE_ATTEMPT_STATES)
            )
        )
        suppressed = exists().where(suppressions.c.to_number == leads.c.to_number)
        stmt = (
            select(
                leads.c.id,
                leads.c.to_number,
                leads.c.zones,
                leads.c.dynamic_variables,
                leads.c.call_metadata,
                leads.c.attempts,
                suppressed.label("suppressed"),
            )
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .where(leads.c.next_attempt_at <= now)
            .where(~live_same_number)
            .order_by(leads.c.next_attempt_at, leads.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=leads)
        )
        if zones is not None:
            stmt = stmt.where(leads.c.zones.in_(zones.keys_to_read))
        return list(await conn.execute(stmt))

    async def _write_claims(
        self,
        conn: AsyncConnection,
        campaign_id: int,
        worker_id: str,
        claimed: list[ClaimedLead],
        now: datetime,
        lease_seconds: float,
    ) -> None:
        lease = now + timedelta(seconds=lease_seconds)
        await conn.execute(
            attempts.insert(),
            [
                {
                    "id": c.attempt_id,
                    "lead_id": c.lead_id,
                    "campaign_id": campaign_id,
                    "number": c.attempt_number,
                    "to_number": c.to_number,
                    "state": "dialing",
                    "created_at": now,
                    "claimed_by": worker_id,
                    "lease_expires_at": max(lease, c.send_at + timedelta(seconds=lease_seconds)),
                }
                for c in claimed
            ],
        )
        await conn.execute(
            leads.update()
            .where(leads.c.id == bindparam("lid"))
            .values(
                state="dialing",
                attempts=leads.c.attempts + 1,
                last_attempt_id=bindparam("aid"),
                updated_at=now,
            ),
            [{"lid": c.lead_id, "aid": c.attempt_id} for c in claimed],
        )

    # -- recording outcomes (fenced on the claim) ------------------------------------------

    async def _fenced_attempt_update(
        self,
        conn: AsyncConnection,
        attempt_id: str,
        worker_id: str,
        from_states: tuple[str, ...],
        values: dict[str, Any],
    ) -> bool:
        result = await conn.execute(
            attempts.update()
            .where(attempts.c.id == attempt_id)
            .where(attempts.c.claimed_by == worker_id)
            .where(attempts.c.state.in_(from_states))
            .values(**values)
        )
        return bool(result.rowcount)

    async def record_placed(
        self,
        attempt_id: str,
        lead_id: int,
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
                attempt_id,
                worker_id,
                ("dialing", "in_doubt"),
                {
                    "state": "placed",
                    "call_id": call_id,
                    "call_status": call_status,
                    "sent_at": now,
                    "api_error": None,
                    "lease_expires_at": now + timedelta(seconds=lease_seconds),
                },
            )
            if ok:
                await conn.execute(
                    leads.update()
                    .where(leads.c.id == lead_id)
                    .values(state="in_call", updated_at=now)
                )
            return ok

    async def record_in_doubt(self, attempt_id: str, worker_id: str, reason: str) -> bool:
        """A call may exist: hold the lead (and its slot) until reconciliation settles it."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            return await self._fenced_attempt_update(
                conn,
                attempt_id,
                worker_id,
                ("dialing", "in_doubt"),
                {"state": "in_doubt", "api_error": reason, "sent_at": now},
            )

    async def record_not_placed(
        self,
        attempt_id: str,
        lead_id: int,
        worker_id: str,
        *,
        error: str | None,
        retry_in: float | None,
        sent: bool = True,
    ) -> bool:
        """The answer proves no call exists. `retry_in` None: the lead failed for good (the API
        refused it); otherwise the attempt is given back and the lead is due again after
        `retry_in` seconds. An attempt never sent leaves no row at all."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            fence = (
                attempts.c.id == attempt_id,
                attempts.c.claimed_by == worker_id,
                attempts.c.state.in_(("dialing", "in_doubt")),
            )
            if sent:
                result = await conn.execute(
                    attempts.update()
                    .where(*fence)
                    .values(
                        state="not_placed", api_error=error, settled_at=now, lease_expires_at=None
                    )
                )
            else:
                result = await conn.execute(attempts.delete().where(*fence))
            if not result.rowcount:
                return False
            if retry_in is None:
                values: dict[str, Any] = {"state": "failed", "skip_reason": error}
            else:
                values = {
                    "state": case((leads.c.attempts <= 1, "pending"), else_="retry_wait"),
                    "attempts": leads.c.attempts - 1,
                    "next_attempt_at": now + timedelta(seconds=retry_in),
                }
            await conn.execute(
                leads.update().where(leads.c.id == lead_id).values(updated_at=now, **values)
            )
            if retry_in is not None:  # only a lead due again can be caught by a cancel
                await self._skip_if_cancelled(conn, lead_id, now)
            return True

    async def record_analysis(self, call_id: str, analysis: dict[str, Any]) -> None:
        """The call's analysis, which Retell may finish after the call ended."""
        async with self.transaction() as conn:
            await conn.execute(
                attempts.update().where(attempts.c.call_id == call_id).values(analysis=analysis)
            )

    async def record_call_end(
        self,
        attempt_id: str,
        lead_id: int,
        campaign_id: int,
        worker_id: str,
        call: dict[str, Any],
        *,
        state: str,
        next_attempt_at: datetime | None,
        refund: bool,
        suppress: bool,
        pause_reason: str | None,
    ) -> bool:
        """A followed call reached a terminal status: write it and the lead's next state."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            ok = await self._fenced_attempt_update(
                conn,
                attempt_id,
                worker_id,
                LIVE_ATTEMPT_STATES,
                {
                    "state": "ended",
                    "call_status": call.get("call_status"),
                    "disconnection_reason": call.get("disconnection_reason"),
                    "started_at": _from_ms(call.get("start_timestamp")),
                    "ended_at": _from_ms(call.get("end_timestamp")),
                    "duration_ms": call.get("duration_ms"),
                    "analysis": call.get("call_analysis"),
                    "settled_at": now,
                    "lease_expires_at": None,
                },
            )
            if not ok:
                return False
            values: dict[str, Any] = {
                "state": state,
                "next_attempt_at": next_attempt_at or now,
                "updated_at": now,
            }
            if refund:
                values["attempts"] = leads.c.attempts - 1
            await conn.execute(leads.update().where(leads.c.id == lead_id).values(**values))
            if state in DUE_LEAD_STATES:  # only a lead due again can be caught by a cancel
                await self._skip_if_cancelled(conn, lead_id, now)
            if suppress:
                await conn.execute(
                    self._insert(suppressions)
                    .values(
                        to_number=call.get("to_number"),
                        reason="user_requested_dnc",
                        source=f"call {call.get('call_id')}",
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                )
            if pause_reason:
                await conn.execute(
                    campaigns.update()
                    .where(campaigns.c.id == campaign_id)
                    .where(campaigns.c.status == "active")
                    .values(status="paused", status_reason=pause_reason, updated_at=now)
                )
            return True

    # -- leases ----------------------------------------------------------------------------

    async def _skip_if_cancelled(self, conn: AsyncConnection, lead_id: int, now: datetime) -> None:
        """A lead due again whose campaign was cancelled is not dialed again.

        Read under the campaign's lock, which `cancel` holds too: a cancel committing at the
        same moment either runs first (and this sees it) or after (and it finds this lead due
        and skips it). Read without the lock, the lead could stay waiting in a cancelled
        campaign."""
        lead = select(leads.c.campaign_id).where(leads.c.id == lead_id)
        campaign_id = int((await conn.execute(lead)).scalar_one())
        await self._lock_campaign(conn, campaign_id)
        status = await conn.scalar(select(campaigns.c.status).where(campaigns.c.id == campaign_id))
        if status == "cancelled":
            await self._skip_as_cancelled(conn, leads.c.id == lead_id, now)

    async def _skip_as_cancelled(self, conn: AsyncConnection, which: Any, now: datetime) -> int:
        """Leads matching `which` that still wait end `skipped`: their campaign was cancelled."""
        result = await conn.execute(
            leads.update()
            .where(which)
            .where(leads.c.state.in_(DUE_LEAD_STATES))
            .values(state="skipped", skip_reason="campaign cancelled", updated_at=now)
        )
        return int(result.rowcount)

    async def renew_leases(self, worker_id: str, lease_seconds: float) -> int:
        """One batched heartbeat for every live attempt this worker holds."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            result = await conn.execute(
                attempts.update()
                .where(attempts.c.claimed_by == worker_id)
                .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
                .where(attempts.c.lease_expires_at < now + timedelta(seconds=lease_seconds))
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
            return int(result.rowcount)

    async def release_leases(self, worker_id: str) -> None:
        """On a clean stop: let the next run take over our live attempts at once."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            await conn.execute(
                attempts.update()
                .where(attempts.c.claimed_by == worker_id)
                .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
                .values(lease_expires_at=now)
            )

    async def take_over_expired(
        self, campaign_id: int, worker_id: str, lease_seconds: float, limit: int = 200
    ) -> list[LiveAttempt]:
        """Claim live attempts whose lease expired (their worker died or stopped)."""
        async with self.transaction() as conn:
            now = await self.now(conn)
            expired = (
                select(attempts.c.id)
                .where(attempts.c.campaign_id == campaign_id)
                .where(attempts.c.state.in_(LIVE_ATTEMPT_STATES))
                .where(attempts.c.lease_expires_at <= now)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = [r.id for r in await conn.execute(expired)]
            if not ids:
                return []
            await conn.execute(
                attempts.update()
                .where(attempts.c.id.in_(ids))
                .values(
                    claimed_by=worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds)
                )
            )
            rows = await conn.execute(
                select(
                    attempts.c.id,
                    attempts.c.lead_id,
                    attempts.c.number,
                    attempts.c.state,
                    attempts.c.call_id,
                    attempts.c.to_number,
                    attempts.c.created_at,
                    leads.c.zones,
                    leads.c.dynamic_variables,
                    leads.c.call_metadata,
                )
                .join(leads, leads.c.id == attempts.c.lead_id)
                .where(attempts.c.id.in_(ids))
            )
            return [
                LiveAttempt(
                    attempt_id=r.id,
                    lead_id=r.lead_id,
                    attempt_number=r.number,
                    state=r.state,
                    call_id=r.call_id,
                    to_number=r.to_number,
                    dynamic_variables=r.dynamic_variables,
                    call_metadata=r.call_metadata,
                    created_at=r.created_at,
                    zones=r.zones,
                )
                for r in rows
            ]

    # -- progress --------------------------------------------------------------------------

    async def lead_counts(self, campaign_id: int) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(leads.c.state, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .group_by(leads.c.state)
            )
            return {state: int(n) for state, n in rows}

    async def live_attempts(self, campaign_id: int) -> int:
        async with self.engine.connect() as conn:
            return await self._live_count(conn, campaign_id)

    async def unfinished_leads(self, campaign_id: int) -> int:
        async with self.engine.connect() as conn:
            return await _count(
                conn,
                leads,
                leads.c.campaign_id == campaign_id,
                leads.c.state.not_in(TERMINAL_LEAD_STATES),
            )

    async def next_due_at(
        self, campaign_id: int, zones: ZoneFilter | None = None
    ) -> datetime | None:
        """When the next lead (of the given zone keys) is due."""
        async with self.engine.connect() as conn:
            stmt = (
                select(func.min(leads.c.next_attempt_at))
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state.in_(DUE_LEAD_STATES))
            )
            if zones is not None:
                stmt = stmt.where(leads.c.zones.in_(zones.keys_to_read))
            value = (await conn.execute(stmt)).scalar_one()
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    async def waiting_by_zone(self, campaign_id: int) -> dict[str, int]:
        """Leads not yet done and not in a call, by zone key (for calling hours)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(leads.c.zones, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .where(leads.c.state.in_(DUE_LEAD_STATES))
                .group_by(leads.c.zones)
            )
            return {str(key): int(count) for key, count in rows}

    async def summary(self, campaign_id: int) -> CampaignSummary:
        """Leads by state, calls by disconnection reason, attempts and talk time."""
        async with self.engine.connect() as conn:
            by_state = await conn.execute(
                select(leads.c.state, func.count())
                .where(leads.c.campaign_id == campaign_id)
                .group_by(leads.c.state)
            )
            by_reason = await conn.execute(
                select(
                    func.coalesce(attempts.c.disconnection_reason, attempts.c.state), func.count()
                )
                .where(attempts.c.campaign_id == campaign_id)
                .group_by(func.coalesce(attempts.c.disconnection_reason, attempts.c.state))
            )
            totals = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(attempts.c.duration_ms), 0),
                        func.count().filter(attempts.c.state.in_(LIVE_ATTEMPT_STATES)),
                        func.count().filter(attempts.c.state == "in_doubt"),
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
        return CampaignSummary(
            leads_by_state={s: int(n) for s, n in by_state},
            calls_by_reason={str(r): int(n) for r, n in by_reason},
            attempts=int(totals[0]),
            live_attempts=int(totals[2]),
            in_doubt=int(totals[3]),
            total_duration_ms=int(totals[1]),
            next_due_at=_aware(due),
        )

    async def export_rows(self, campaign_id: int) -> AsyncIterator[dict[str, Any]]:
        """One row per lead with its latest attempt (streamed)."""
        last = attempts.alias("last")
        stmt = (
            select(
                leads.c.lead_key.label("lead_id"),
                leads.c.to_number,
                leads.c.state,
                leads.c.attempts,
                last.c.call_id.label("last_call_id"),
                last.c.call_status.label("last_call_status"),
                last.c.disconnection_reason.label("last_disconnection_reason"),
                last.c.created_at.label("last_attempt_at"),
                leads.c.next_attempt_at,
                last.c.duration_ms,
                leads.c.dynamic_variables,
                leads.c.skip_reason,
            )
            .select_from(leads.outerjoin(last, last.c.id == leads.c.last_attempt_id))
            .where(leads.c.campaign_id == campaign_id)
            .order_by(leads.c.id)
        )
        async with self.engine.connect() as conn:
            result = await conn.stream(stmt.execution_options(yield_per=1000))
            async for row in result:
                data = dict(row._mapping)
                if data["state"] in TERMINAL_LEAD_STATES:
                    data["next_attempt_at"] = None
                yield data

    async def export_attempt_rows(self, campaign_id: int) -> AsyncIterator[dict[str, Any]]:
        """One row per attempt (streamed)."""
        stmt = (
            select(
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
            )
            .join(leads, leads.c.id == attempts.c.lead_id)
            .where(attempts.c.campaign_id == campaign_id)
            .order_by(attempts.c.created_at, attempts.c.id)
        )
        async with self.engine.connect() as conn:
            result = await conn.stream(stmt.execution_options(yield_per=1000))
            async for row in result:
                yield dict(row._mapping)


def _aware(value: object) -> datetime | None:
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _from_ms(value: object) -> datetime | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


@dataclass(frozen=True)
class CampaignSummary:
    leads_by_state: dict[str, int]
    calls_by_reason: dict[str, int]
    attempts: int
    live_attempts: int
    in_doubt: int
    total_duration_ms: int
    next_due_at: datetime | None
