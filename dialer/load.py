"""Loading a campaign into the store: one pass, one transaction, nothing partial."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
import anyio.lowlevel

from dialer.campaign import LoadedCampaign
from dialer.hours import never_reason, schedule
from dialer.leads import LeadScan, iter_leads
from dialer.problems import InputError, Problem
from dialer.store import Store
from dialer.store.repository import LeadRecord, lead_record
from dialer.suppress import SuppressList, read_suppress_files

LOAD_BATCH = 5000
_READ_CHUNK = 50  # leads read between chances for the database writer to move


@dataclass(frozen=True)
class LoadResult:
    campaign_id: int
    leads_in_file: int
    added: int
    suppressed: int = 0


@dataclass(frozen=True)
class NeverCallable:
    """Leads sharing a zone key that calling hours never let us call."""

    count: int
    first_line: int
    reason: str


@dataclass
class CampaignReview:
    """What `dialer validate` finds: problems, and warnings that do not stop a run."""

    scan: LeadScan
    suppress: SuppressList
    suppressed_leads: int = 0
    never_callable: list[NeverCallable] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return sorted_problems([*self.suppress.problems, *self.scan.problems])

    @property
    def problem_count(self) -> int:
        return self.scan.problem_count + len(self.suppress.problems)


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.file), p.line))


def never_callable(loaded: LoadedCampaign, scan: LeadScan) -> list[NeverCallable]:
    """Leads whose calling hours never open (no zone known, or zones that never overlap)."""
    hours = loaded.campaign.calling_hours
    if hours is None:
        return []
    plan = schedule(hours, scan.zone_keys, datetime.now(UTC))
    return [
        NeverCallable(scan.zone_keys[key], scan.zone_first_line[key], never_reason(hours, key))
        for key in sorted(plan.never_keys, key=lambda k: scan.zone_first_line[k])
    ]


def review_campaign(loaded: LoadedCampaign) -> CampaignReview:
    """Read every lead and suppression file without touching the store."""
    review = CampaignReview(LeadScan(), read_suppress_files(loaded))
    for lead in iter_leads(loaded, review.scan):
        if review.suppress.source_of(lead.to_number) is not None:
            review.suppressed_leads += 1
    review.never_callable = never_callable(loaded, review.scan)
    return review


async def load_campaign_into_store(store: Store, loaded: LoadedCampaign) -> LoadResult:
    """Create or refresh the campaign and its leads. Loading the same file twice adds nothing;
    new rows are added; rows with history are left as they are; leads on the campaign's
    suppression files that are still waiting end `skipped`. Any problem rolls it all back."""
    review = CampaignReview(LeadScan(), read_suppress_files(loaded))

    def records_while_valid(campaign_id: int) -> Iterator[LeadRecord]:
        # Read to the end to report every problem, but write nothing after the first: the
        # transaction will roll back.
        for lead in iter_leads(loaded, review.scan):
            if not review.problem_count:
                yield lead_record(campaign_id, lead)

    async with store.transaction() as conn:
        campaign_id = await store.upsert_campaign(conn, loaded.campaign, str(loaded.path))
        now = await store.now(conn)
        before = await store.count_leads(conn, campaign_id)

        async def write(batch: list[LeadRecord]) -> None:
            # iter_leads yields each key once; the campaign row stays locked until commit
            await store.insert_leads(conn, batch, now, campaign_is_new=before == 0)

        records = records_while_valid(campaign_id)
        if store.is_postgres:
            await _write_while_reading(records, write)
        else:
            for batch in _batches(records, LOAD_BATCH):
                await write(batch)
        if review.problem_count:
            raise InputError(review.problems)
        after = await store.count_leads(conn, campaign_id)
        suppressed = await store.skip_suppressed(conn, campaign_id, review.suppress.sources, now)
    return LoadResult(
        campaign_id=campaign_id,
        leads_in_file=review.scan.leads,
        added=after - before,
        suppressed=suppressed,
    )


def _batches(records: Iterator[LeadRecord], size: int) -> Iterator[list[LeadRecord]]:
    while batch := list(itertools.islice(records, size)):
        yield batch


async def _write_while_reading(
    records: Iterator[LeadRecord], write: Callable[[list[LeadRecord]], Awaitable[None]]
) -> None:
    """Write batches while the next one is read: Postgres works in its own process, so its
    share of a load overlaps ours. (SQLite works inside this process and needs the interpreter
    lock for every row it binds, so there reading and writing take turns.)"""
    send, receive = anyio.create_memory_object_stream[list[LeadRecord]](1)

    async def writer() -> None:
        async with receive:
            async for batch in receive:
                await write(batch)

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(writer)
            async with send:
                batch: list[LeadRecord] = []
                for chunk in _batches(records, _READ_CHUNK):
                    batch += chunk
                    if len(batch) >= LOAD_BATCH:
                        await send.send(batch)
                        batch = []
                    else:
                        await anyio.lowlevel.checkpoint()  # let the writer's I/O move
                await send.send(batch)
    except BaseExceptionGroup as group:  # the writer's error, as itself
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
