"""Campaign control in the store against calls ending at the same moment, on both stores."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import ClaimRequest, Store
from dialer.store.schema import campaigns, leads

from ..helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio


async def test_a_call_ending_during_a_cancel_does_not_leave_its_lead_waiting(
    store: Store, tmp_path: Path
) -> None:
    """A cancel in progress (here: held open) and a call ending with a retryable outcome: the
    lead must end `skipped` whichever commits first."""
    path = write_campaign(tmp_path, numbers(1), name="control")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=10), 1, 30)
    claim = await store.claim(campaign_id, "w1", request)
    (lead,) = claim.attempts
    assert await store.record_placed(lead, "w1", "call-1", "ongoing", 30)

    async def ended() -> None:
        await store.record_call_end(
            lead,
            "w1",
            Decision(LeadState.RETRY_WAIT),
            CallEnd("call-1", "ended", "dial_busy"),
        )

    # the transaction (what `cancel` does, held open a moment) ends first, then the group
    async with anyio.create_task_group() as group, store.transaction() as conn:
        await store.lock_campaign(conn, campaign_id)
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
