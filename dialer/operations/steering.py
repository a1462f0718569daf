"""Steering a campaign in the store: pause, resume, cancel (`dialer pause|resume|cancel`), and
what `dialer run` does with a campaign it loaded that is paused, cancelled or finished. The
rules are dialer.domain.lifecycle's; this module applies them."""

from __future__ import annotations

from datetime import timedelta

from dialer.dialing.options import RunOutcome, RunResult
from dialer.domain import lifecycle
from dialer.domain.lifecycle import ControlRefusedError
from dialer.domain.states import CampaignStatus
from dialer.store import CampaignRow, Store

__all__ = ["ControlRefusedError", "cancel", "open_for_run", "pause", "resume"]

# A process heard from within this long serves (heartbeats come every lease_seconds / 3).
SERVING_WITHIN = timedelta(seconds=45)


async def _campaign(store: Store, name: str) -> CampaignRow:
    row = await store.campaign(name)
    if row is None:
        raise ControlRefusedError(f"no campaign named {name!r} in the store")
    return row


async def pause(store: Store, name: str) -> str:
    row = await _campaign(store, name)
    change = lifecycle.pause(name, row.status)
    if change.status is not None:
        await store.change_status(row.id, lifecycle.paused_by_person())
    return change.message


async def resume(store: Store, name: str) -> str:
    """Resume, and say whether any live process will dial it (runners heartbeat in the
    store)."""
    row = await _campaign(store, name)
    change = lifecycle.resume(name, row.status)
    if change.status is not None:
        await store.change_status(row.id, lifecycle.resumed())
    serving = await store.serving(row.id, SERVING_WITHIN)
    return lifecycle.serving_message(change.message, name, [p.kind for p in serving])


async def cancel(store: Store, name: str) -> str:
    row = await _campaign(store, name)
    return lifecycle.cancelled_message(name, await store.cancel(row.id))


async def open_for_run(store: Store, row: CampaignRow) -> CampaignRow | RunResult:
    """The campaign `dialer run` runs (a finished one with new rows is opened again; a paused
    one is run too: the run waits until it is resumed), or the result to report at once when
    it is cancelled."""
    status = lifecycle.status_for_a_run(row.status)
    if status is None:
        return RunResult(RunOutcome.CANCELLED, row.status_reason or row.status.value)
    if status is CampaignStatus.PAUSED:
        return row
    if status is not row.status:
        await store.change_status(row.id, lifecycle.reopened())
        reopened = await store.campaign(row.id)
        assert reopened is not None
        return reopened
    return row


async def reopen_if_new_leads(store: Store, campaign_id: int) -> bool:
    """A finished campaign whose list gained leads to dial (a load, an API append) is active
    again, so workers serve it. Returns whether it was opened."""
    if not await store.has_unfinished_leads(campaign_id):
        return False
    return await store.change_status(campaign_id, lifecycle.reopened())
