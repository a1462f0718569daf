"""Campaign control in the store against calls ending at the same moment, on both stores."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dialer.campaign import load_campaign
from dialer.load import load_campaign_into_store
from dialer.store import Store
from dialer.store.schema import campaigns, leads

from .helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio


async def test_a_call_ending_during_a_cancel_does_not_leave_its_lead_waiting(
    store: Store, tmp_path: Path
) -> None:
    """A cancel in progress (here: held open) and a call ending with a retryable outcome: the
    lead must end `skipped` whichever commits first."""
    path = write_campaign(tmp_path, numbers(1), name="control")
    campaign_id = (await load_campaign_into_store(store, load_campaign(path))).campaign_id
    claim = await store.claim(campaign_id, "w1", limit=1, lease_seconds=30)
    (lead,) = claim.leads
    assert await store.record_placed(lead.attempt_id, lead.lead_id, "w1", "call-1", "ongoing", 30)

    async def ended() -> None:
        await store.record_call_end(
            lead.attempt_id,
            lead.lead_id,
            campaign_id,
            "w1",
            {"call_id": "call-1", "call_status": "ended", "disconnection_reason": "dial_busy"},
            state="retry_wait",
            next_attempt_at=None,
            refund=False,
            suppress=False,
            pause_reason=None,
        )

    # the transaction (what `cancel` does, held open a moment) ends first, then the group
    async with anyio.create_task_group() as group, store.transaction() as conn:
        await store._lock_campaign(conn, campaign_id)
        await conn.execute(
            campaigns.update().where(campaigns.c.id == campaign_id).values(status="cancelled")
        )
        await conn.execute(
            leads.update()
            .where(leads.c.campaign_id == campaign_id)
            .where(leads.c.state.in_(("pending", "retry_wait")))
            .values(state="skipped", skip_reason="campaign cancelled")
        )
        group.start_soon(ended)
        await anyio.sleep(0.5)  # the call's end is written meanwhile (or waits for us)
    (row,) = await lead_rows(store)
    assert (row["state"], row["skip_reason"]) == ("skipped", "campaign cancelled")
