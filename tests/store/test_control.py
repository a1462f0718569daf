"""Campaign control in the store against calls ending at the same moment, on both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from dialer.domain import lifecycle
from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import ClaimRequest, Store

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

    # `cancel` is held open a moment after it wrote the status (its transaction still holds
    # the campaign's lock) while the call's end is written (or waits for it)
    from dialer.store import campaigns as campaign_queries

    real_write = campaign_queries.write_transition

    async def slow_write(*args: Any, **kwargs: Any) -> bool:
        written = await real_write(*args, **kwargs)
        await anyio.sleep(0.5)
        return written

    async with anyio.create_task_group() as group:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(campaign_queries, "write_transition", slow_write)
            group.start_soon(store.cancel, campaign_id)
            await anyio.sleep(0.1)  # the cancel holds the lock now
            await ended()
    (row,) = await lead_rows(store)
    assert (row["state"], row["skip_reason"]) == ("skipped", "campaign cancelled")


async def test_a_status_change_applies_only_from_the_statuses_it_names(
    store: Store, tmp_path: Path
) -> None:
    """A failure spike found just after a person cancelled the campaign does not pause it."""
    path = write_campaign(tmp_path, numbers(1), name="control")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    spike = lifecycle.paused(lifecycle.Cause.FAILURE_SPIKE, "failure spike")
    assert await store.change_status(campaign_id, spike)
    assert not await store.change_status(campaign_id, spike)  # paused already
    assert await store.cancel(campaign_id) == 1
    assert not await store.change_status(campaign_id, lifecycle.resumed())
    row = await store.campaign(campaign_id)
    assert row is not None and (row.status, row.status_reason) == (
        "cancelled",
        "cancelled by a person",
    )
