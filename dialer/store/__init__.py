"""The store: campaigns, leads, attempts and suppressions in SQLite or Postgres.

It executes; it does not decide. The domain's decisions arrive as typed values (a claim
request, a `Decision`, a `CallEnd`) and come back as typed rows and results. Everything outside
this package imports it from here only; nothing outside it imports SQLAlchemy.
"""

from dialer.store.availability import DEFAULT_OUTAGE_SECONDS, conflict_pause
from dialer.store.campaigns import CampaignQueries
from dialer.store.claiming import ClaimingQueries
from dialer.store.connection import (
    SchemaOutOfDateError,
    SchemaTooNewError,
    StoreMissingError,
    StoreUrlError,
    database_url,
    open_engine,
    store_location,
    upgrade_store,
)
from dialer.store.do_not_call import DoNotCallEntry, DoNotCallQueries
from dialer.store.errors import (
    StoreError,
    StoreOutageError,
    explain,
    is_transient_conflict,
    shown_url,
)
from dialer.store.experiments import ExperimentCounts, ExperimentQueries
from dialer.store.export_rows import ATTEMPT_ROW_KEYS, LEAD_ROW_KEYS
from dialer.store.following import FollowingQueries
from dialer.store.leases import LeaseQueries
from dialer.store.list_writer import (
    CampaignNotFoundError,
    ListTotals,
    ListWriter,
    ListWriterQueries,
)
from dialer.store.loading import LeadRecord, LoadingQueries, lead_record
from dialer.store.notifications import NotificationQueries
from dialer.store.outbox import OutboxEvent, OutboxQueries, ResultsDelivery
from dialer.store.processes import RUN, WORKER, ProcessQueries, ServingProcess
from dialer.store.records import (
    Attempt,
    CallerIdPlan,
    CampaignRow,
    CampaignSummary,
    Claim,
    ClaimRequest,
    FromNumberStats,
    NumberBusyError,
)
from dialer.store.reloading import ReloadQueries
from dialer.store.reports import ReportQueries
from dialer.store.settling import CallEndRecord, SettlingQueries
from dialer.store.tokens import ApiToken, TokenExistsError, TokenQueries


class Store(
    ListWriterQueries,
    CampaignQueries,
    LoadingQueries,
    ReloadQueries,
    ClaimingQueries,
    SettlingQueries,
    LeaseQueries,
    FollowingQueries,
    ReportQueries,
    ExperimentQueries,
    NotificationQueries,
    ProcessQueries,
    TokenQueries,
    DoNotCallQueries,
    OutboxQueries,
):
    """Typed access to the store, one part per concern (campaigns, loading, claiming,
    settling, leases, following, reports, experiments, notifications, API tokens, the
    do-not-call list, the results outbox). Create with `open_store`."""


async def open_store(
    url: str | None = None,
    *,
    migrate: bool = True,
    outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
    create: bool = True,
) -> Store:
    """Open the store at `url` (default: DATABASE_URL, else the embedded SQLite file); the
    embedded SQLite store is created and migrated on first use, Postgres must be (`dialer db
    upgrade`). With `create` False (the read commands), a missing SQLite file is a
    StoreMissingError instead. Once open, the store waits out the database going away for up
    to `outage_seconds`."""
    engine = await open_engine(url, migrate=migrate, create=create)
    return Store(engine, outage_seconds=outage_seconds)


__all__ = [
    "ATTEMPT_ROW_KEYS",
    "DEFAULT_OUTAGE_SECONDS",
    "LEAD_ROW_KEYS",
    "RUN",
    "WORKER",
    "ApiToken",
    "Attempt",
    "CallEndRecord",
    "CallerIdPlan",
    "CampaignNotFoundError",
    "CampaignRow",
    "CampaignSummary",
    "Claim",
    "ClaimRequest",
    "DoNotCallEntry",
    "ExperimentCounts",
    "FromNumberStats",
    "LeadRecord",
    "ListTotals",
    "ListWriter",
    "NumberBusyError",
    "OutboxEvent",
    "ResultsDelivery",
    "SchemaOutOfDateError",
    "SchemaTooNewError",
    "ServingProcess",
    "Store",
    "StoreError",
    "StoreMissingError",
    "StoreOutageError",
    "StoreUrlError",
    "TokenExistsError",
    "conflict_pause",
    "database_url",
    "explain",
    "is_transient_conflict",
    "lead_record",
    "open_store",
    "shown_url",
    "store_location",
    "upgrade_store",
]
