"""Tables of the store (SQLAlchemy Core). Migrations in migrations/ must yield exactly this."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from dialer.domain import states

# The partial indexes below are written with the states' plain values, as the migrations wrote
# them (dialer.domain.states names the same sets).
DUE_LEAD_STATES = tuple(s.value for s in states.DUE_LEAD_STATES)
LIVE_ATTEMPT_STATES = tuple(s.value for s in states.LIVE_ATTEMPT_STATES)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that must be timezone-aware; stored as UTC, read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("config", JSONType, nullable=False),
    Column("source_path", Text),
    # dialer.domain.states.CampaignStatus
    Column("status", String(16), nullable=False),
    Column("status_reason", Text),
    # Campaign-wide dial pacing (GCRA): the earliest instant the next call may start.
    Column("next_dial_at", UTCDateTime),
    # After a 429 or a refused account: no new dial before this instant.
    Column("hold_until", UTCDateTime),
    # The failure-spike breaker counts calls settled after this instant (set on resume).
    Column("breaker_since", UTCDateTime),
    # A digest of the campaign file, its lead list and suppression files as last loaded:
    # `dialer run` skips reading an unchanged million-row list again.
    Column("source_digest", String(32)),
    # What the campaign's calls cost so far (cents), and how many calls that is: the budget
    # is checked at every claim without adding up a million attempts.
    Column("spend_cents", Double, nullable=False, server_default="0"),
    Column("billed_calls", Integer, nullable=False, server_default="0"),
    # The call time (ms) behind that spend: the campaign's own price of a call's minute, for
    # the calls whose cost has not come yet.
    Column("billed_ms", BigInteger, nullable=False, server_default="0"),
    # Every place ([zones, states]) its leads were loaded with, alternates included: a runner
    # whose rules restrict none of them need not count its leads by place.
    Column("places", JSONType),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

leads = Table(
    "leads",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("lead_key", String(200), nullable=False),
    Column("to_number", String(20), nullable=False),
    Column("timezone", String(64)),
    # The lead's time zones for calling hours: its own `timezone`, else its number's zones,
    # '|'-joined; '' when unknown (dialer.domain.timezones.lead_zone_key).
    Column("zones", Text, nullable=False, server_default=""),
    # The lead's states for state calling rules: its address state and its area code's,
    # '|'-joined; '' when unknown (dialer.domain.state_rules.lead_states_key).
    Column("states", Text, nullable=False, server_default=""),
    # The from-number that dials this lead, chosen at its first claim and kept (sticky).
    Column("from_number", String(20)),
    # Numbers to try once the current one is spent without reaching anyone:
    # [{to_number, zones, states}, …]; `number_index` 0 is the lead's first number.
    Column("alternates", JSONType),
    Column("number_index", Integer, nullable=False, server_default="0"),
    Column("dynamic_variables", JSONType, nullable=False),
    Column("call_metadata", JSONType, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    # Attempts spent, counted at claim time (a lead that crashes workers still runs out).
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_attempt_id", String(36)),
    Column("skip_reason", Text),
    Column("source_line", Integer),
    # When the callee agreed to be called (the lead's `consent_at`), if on record.
    Column("consent_at", UTCDateTime),
    # Why a due lead waits past its own schedule, when a rule deferred it (min_recall_gap, …).
    Column("wait_reason", Text),
    # When a load of the campaign's list no longer had this lead: it is not dialed again
    # (cleared if a later load has it again).
    Column("removed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # What the lead's next attempt uses, as the step that scheduled it says (agent_id,
    # agent_version, dynamic_variables, voicemail); None: the campaign's (or variant's) own.
    Column("next_plan", JSONType),
    UniqueConstraint("campaign_id", "lead_key"),
)
_due = leads.c.state.in_(DUE_LEAD_STATES)
Index(
    "ix_leads_due",
    leads.c.campaign_id,
    leads.c.next_attempt_at,
    leads.c.id,
    postgresql_where=_due,
    sqlite_where=_due,
)
# A campaign's leads by state, in lead order (counts by state; a page of results of one state),
# and all of them in lead order (a page of results): keyset pages cost the same at any depth.
Index("ix_leads_campaign_id_state_id", leads.c.campaign_id, leads.c.state, leads.c.id)
Index("ix_leads_campaign_id_id", leads.c.campaign_id, leads.c.id)
Index("ix_leads_to_number", leads.c.to_number)

attempts = Table(
    "attempts",
    metadata,
    # The attempt id: sent as the request's idempotency_key and inside the call's metadata.
    Column("id", String(36), primary_key=True),
    Column("lead_id", ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("to_number", String(20), nullable=False),
    Column("from_number", String(20)),
    # The voicemail action the create asked for (hangup, static_text, prompt), if any.
    Column("voicemail_action", String(16)),
    # The experiment's variant the call was placed for (dialer.domain.variants), if any.
    Column("variant", String(64)),
    Column("state", String(16), nullable=False),
    Column("call_id", String(128)),
    Column("call_status", String(32)),
    Column("disconnection_reason", String(64)),
    Column("api_error", Text),
    Column("analysis", JSONType),
    # What the call cost, in cents (Retell's call_cost.combined_cost), and its recording.
    Column("cost_cents", Double),
    Column("recording_url", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("duration_ms", BigInteger),
    Column("settled_at", UTCDateTime),
    Column("claimed_by", String(64)),
    Column("lease_expires_at", UTCDateTime),
)
_live = attempts.c.state.in_(LIVE_ATTEMPT_STATES)
Index("ix_attempts_lead_id", attempts.c.lead_id)
Index("ix_attempts_call_id", attempts.c.call_id)
# Calls to a number in the last day, across campaigns (max_attempts_per_number_per_day).
Index("ix_attempts_to_number_created_at", attempts.c.to_number, attempts.c.created_at)
# Calls from a from-number in the last day, across campaigns (max_calls_per_number_per_day).
Index("ix_attempts_from_number_created_at", attempts.c.from_number, attempts.c.created_at)
# A campaign's dials in the last minute (its dial rate on the dashboard).
Index("ix_attempts_campaign_id_created_at", attempts.c.campaign_id, attempts.c.created_at)
# A campaign's latest calls (the failure-spike breaker).
Index("ix_attempts_campaign_id_settled_at", attempts.c.campaign_id, attempts.c.settled_at)
Index(
    "ix_attempts_live_campaign",
    attempts.c.campaign_id,
    attempts.c.lease_expires_at,
    postgresql_where=_live,
    sqlite_where=_live,
)
# Ended calls whose cost Retell has not reported yet (the budget's pending estimate).
_uncosted = (attempts.c.state == states.AttemptState.ENDED.value) & attempts.c.cost_cents.is_(None)
Index(
    "ix_attempts_uncosted",
    attempts.c.campaign_id,
    postgresql_where=_uncosted,
    sqlite_where=_uncosted,
)
# One live call per number, store-wide: the database itself refuses a second concurrent dial.
Index(
    "ix_attempts_live_number",
    attempts.c.to_number,
    unique=True,
    postgresql_where=_live,
    sqlite_where=_live,
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("to_number", String(20), primary_key=True),
    Column("reason", String(64), nullable=False),
    Column("source", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

# From-numbers a campaign no longer dials from (marked as spam, or worn out by failures).
retired_numbers = Table(
    "retired_numbers",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("retired_at", UTCDateTime, nullable=False),
)

# The processes serving campaigns (`dialer run`: its campaign; `dialer worker`: every active
# one), each renewing its heartbeat while it lives: `dialer resume` says whether anyone serves.
processes = Table(
    "processes",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # run | worker
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

# Bearer tokens of the HTTP API (`dialer token create`). A token reads `<id>.<secret>`: the id
# finds the row, and only a SHA-256 digest of the secret is kept, compared in constant time.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Results to push to a campaign's results_webhook (dialer.domain.results_push), each written in
# the transaction of the change it reports and delivered at least once, in id order per lead.
results_outbox = Table(
    "results_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # The event's stable id: sent as `event_id` and `x-dialer-event-id` (receivers dedupe on it)
    Column("event_id", String(36), nullable=False, unique=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("lead_id", ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_id", String(36)),
    Column("kind", String(16), nullable=False),  # lead_finished | attempt_ended
    # The lead's (or attempt's) row of `dialer export` as the change left it, before shaping
    Column("payload", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_try_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime),
    Column("leased_by", String(64)),
    Column("lease_expires_at", UTCDateTime),
)
_undelivered = results_outbox.c.state == "pending"
# Events due for delivery, oldest first; a lead's earlier undelivered events.
Index(
    "ix_results_outbox_pending",
    results_outbox.c.next_try_at,
    postgresql_where=_undelivered,
    sqlite_where=_undelivered,
)
Index("ix_results_outbox_lead_id_id", results_outbox.c.lead_id, results_outbox.c.id)
Index("ix_results_outbox_campaign_id_state", results_outbox.c.campaign_id, results_outbox.c.state)

# Following a campaign's calls once per fleet (dialer.domain.following): the process that holds
# a campaign's following lease asks Retell about every placed call of the campaign.
following_leases = Table(
    "following_leases",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("holder", String(64), nullable=False),  # the worker id
    Column("expires_at", UTCDateTime, nullable=False),
)

# Ends the lease's holder saw of calls another process placed: that process settles its attempt
# from here (fenced on its claim, as always), woken by a notification.
seen_call_ends = Table(
    "seen_call_ends",
    metadata,
    Column("attempt_id", ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("call", JSONType, nullable=False),  # the call as Retell listed it
    Column("seen_at", UTCDateTime, nullable=False),
)
Index("ix_seen_call_ends_campaign_id", seen_call_ends.c.campaign_id)
