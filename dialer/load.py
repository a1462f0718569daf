"""Loading a campaign into the store: one pass, one transaction, nothing partial."""

from __future__ import annotations

from dataclasses import dataclass

from dialer.campaign import LoadedCampaign
from dialer.leads import Lead, LeadScan, iter_leads
from dialer.problems import InputError, Problem
from dialer.store import Store

LOAD_BATCH = 5000


@dataclass(frozen=True)
class LoadResult:
    campaign_id: int
    leads_in_file: int
    added: int


def scan_leads(loaded: LoadedCampaign) -> LeadScan:
    """Read every lead without touching the store (what `dialer validate` does)."""
    scan = LeadScan()
    for _ in iter_leads(loaded, scan):
        pass
    return scan


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.file), p.line))


async def load_campaign_into_store(store: Store, loaded: LoadedCampaign) -> LoadResult:
    """Create or refresh the campaign and its leads. Loading the same file twice adds nothing;
    new rows are added; rows with history are left as they are. Any problem rolls it all back."""
    scan = LeadScan()
    async with store.transaction() as conn:
        campaign_id = await store.upsert_campaign(conn, loaded.campaign, str(loaded.path))
        now = await store.now(conn)
        before = await store.count_leads(conn, campaign_id)
        batch: list[Lead] = []
        for lead in iter_leads(loaded, scan):
            if scan.problem_count:
                continue  # keep reading to report every problem; the transaction will roll back
            batch.append(lead)
            if len(batch) >= LOAD_BATCH:
                await store.insert_leads(conn, campaign_id, batch, now)
                batch.clear()
        if scan.problem_count:
            raise InputError(sorted_problems(scan.problems))
        await store.insert_leads(conn, campaign_id, batch, now)
        after = await store.count_leads(conn, campaign_id)
    return LoadResult(campaign_id=campaign_id, leads_in_file=scan.leads, added=after - before)
