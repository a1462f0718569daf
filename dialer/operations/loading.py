"""Importing a campaign into the store: its file and lead list read in one pass and written
in one transaction; nothing partial."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace

import anyio
import anyio.lowlevel

from dialer import __version__
from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings
from dialer.domain.list_edits import LoadReport, RowEdit
from dialer.domain.variants import variant_changes
from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.leads import Lead, LeadScan, iter_leads
from dialer.inputs.problems import InputError
from dialer.inputs.review import CampaignReview
from dialer.inputs.suppress import read_suppress_files
from dialer.inputs.yamlsource import InputFileError, check_regular_file
from dialer.store import CampaignRow, LeadRecord, Store, lead_record

WRITE_BATCH = 5000
ANALYZE_AFTER_ROWS = 10_000  # a load that adds this many rows refreshes the planner's statistics
_READ_CHUNK = 50  # leads read between chances for the database writer to move


@dataclass(frozen=True)
class ImportResult:
    campaign_id: int
    report: LoadReport

    @property
    def leads_in_file(self) -> int:
        return self.report.in_file

    @property
    def added(self) -> int:
        return self.report.added

    @property
    def suppressed(self) -> int:
        return self.report.suppressed

    @property
    def unchanged(self) -> bool:
        """The files are as last loaded: their leads were not read again."""
        return self.report.files_unchanged


def source_digest(loaded: CampaignSource) -> str:
    """A digest of everything a load reads: the campaign file, its lead list and suppression
    files (as bytes), and this version of dialer (which decides what the bytes mean)."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=16)
    paths = [loaded.path]
    if loaded.leads_path is not None:
        paths.append(loaded.leads_path)
    paths += [(loaded.path.parent / name).resolve() for name in loaded.campaign.suppress]
    digest.update(loaded.campaign.model_dump_json().encode())  # a from_numbers file, read
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        try:
            check_regular_file(path)  # /dev/zero would never end
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except (OSError, InputFileError):
            digest.update(b"<unreadable>")  # the load itself reports it
    return digest.hexdigest()


async def import_campaign(store: Store, loaded: CampaignSource) -> ImportResult:
    """Create or refresh the campaign and its leads. Loading the same file twice adds nothing
    (and files unchanged since the last load are not read again); new rows are added; rows with
    history are left as they are; leads on the campaign's suppression files that are still
    waiting end `skipped`. Any problem rolls it all back.

    A load the database rolls back in favour of a concurrent claim (a deadlock, a serialization
    failure on Postgres) is run again from the start: it wrote nothing."""
    digest = source_digest(loaded)
    known = await store.source_digest(loaded.campaign.name)
    if known is not None and known[1] == digest:
        count = await store.lead_count(known[0])
        report = LoadReport(loaded.campaign.name, count, {}, files_unchanged=True)
        return ImportResult(known[0], report)
    before = await store.campaign(loaded.campaign.name)
    result = await with_conflict_retries(store, lambda: _import(store, loaded, digest))
    return await _with_variant_note(store, result, before, loaded.campaign)


async def _with_variant_note(
    store: Store, result: ImportResult, before: CampaignRow | None, settings: CampaignSettings
) -> ImportResult:
    """The report says when the reload renamed, removed or reweighted variants that dialed
    leads recorded (they keep theirs while it exists: dialer.domain.variants.dial_variant)."""
    old = before.settings().variants if before is not None else []
    if [v.model_dump() for v in old] == [v.model_dump() for v in settings.variants]:
        return result
    recorded = await store.recorded_variants(result.campaign_id)
    note = variant_changes(old, settings.variants, recorded)
    if note is None:
        return result
    return replace(result, report=replace(result.report, notes=(*result.report.notes, note)))


async def with_conflict_retries(
    store: Store, load: Callable[[], Awaitable[ImportResult]]
) -> ImportResult:
    """Run `load` (one transaction) again from the start while the database goes away or rolls
    it back in favour of a concurrent transaction (a deadlock, a serialization failure on
    Postgres): it wrote nothing. The store's availability rides out both."""
    return await store.availability.run(load)


@dataclass(frozen=True)
class ListLoad:
    """What one load writes, whatever brought the leads (a file, a request's body).

    `settings`: the campaign's settings to write (created, or refreshed), or None to leave a
    campaign that must exist as it is. `whole_list`: the leads are the campaign's whole list,
    so a lead they do not name is not dialed again (a file); else they are added to the
    list (the HTTP API), and a number another lead of the campaign holds is a duplicate."""

    name: str
    settings: CampaignSettings | None
    whole_list: bool
    source_path: str | None = None
    digest: str | None = None


async def _import(store: Store, loaded: CampaignSource, digest: str) -> ImportResult:
    review = CampaignReview(LeadScan(), read_suppress_files(loaded))
    job = ListLoad(loaded.campaign.name, loaded.campaign, True, str(loaded.path), digest)
    return await write_list(store, job, iter_leads(loaded, review.scan), review)


async def write_list(
    store: Store, job: ListLoad, leads: Iterator[Lead], review: CampaignReview
) -> ImportResult:
    """Write `leads` (read as they are written; every problem lands in `review`) in one
    transaction: added, edited by the list-edit rules (dialer.domain.list_edits), suppressed
    by the review's files. Any problem rolls it all back (InputError)."""
    alternate_places: set[Place] = set()

    def records_while_valid(campaign_id: int) -> Iterator[LeadRecord]:
        # Read to the end to report every problem, but write nothing after the first: the
        # transaction will roll back.
        suppressed = review.suppress.sources
        for lead in leads:
            if lead.alternates and suppressed:  # a suppressed alternate is never dialed
                lead.alternates = [a for a in lead.alternates if a.to_number not in suppressed]
            alternate_places.update(Place(a.zones, a.states) for a in lead.alternates)
            if not review.problem_count:
                yield lead_record(campaign_id, lead)

    async with store.list_writer(
        job.name,
        job.settings,
        whole_list=job.whole_list,
        source_path=job.source_path,
        digest=job.digest,
    ) as writer:
        records = records_while_valid(writer.campaign_id)
        if writer.overlaps_writes:
            await _write_while_reading(records, writer.write)
        else:
            for batch in _batches(records, WRITE_BATCH):
                await writer.write(batch)
        if review.problem_count:
            raise InputError(review.problems)
        totals = await writer.finish(
            review.suppress.sources,
            {*review.scan.places, *alternate_places},
            job.settings,
            job.source_path,
            job.digest,
        )
        campaign_id = writer.campaign_id
    if totals.edits[RowEdit.ADDED] >= ANALYZE_AFTER_ROWS:
        await store.refresh_statistics()
    report = LoadReport(
        campaign=job.name,
        in_file=review.scan.leads,
        edits=dict(totals.edits),
        removed=totals.removed,
        rekeyed=totals.rekeyed,
        suppressed=totals.suppressed,
        dialed_elsewhere=totals.dialed_elsewhere,
        examples={kind: tuple(ids) for kind, ids in totals.examples.items()},
        dedupe_across=job.settings is not None and job.settings.dedupe_across_campaigns is not None,
    )
    return ImportResult(campaign_id, report)


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
                    if len(batch) >= WRITE_BATCH:
                        await send.send(batch)
                        batch = []
                    else:
                        await anyio.lowlevel.checkpoint()  # let the writer's I/O move
                await send.send(batch)
    except BaseExceptionGroup as group:  # the writer's error, as itself
        # (the reader may meet the stream its failed writer closed: that is not news)
        causes = [e for e in group.exceptions if not isinstance(e, anyio.BrokenResourceError)]
        if len(causes) == 1:
            raise causes[0] from None
        raise
