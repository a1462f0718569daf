"""Leases on both stores: a worker that stops renewing loses its attempts to another, which
takes them over as they stand (a placed call with its id; a claim in doubt to reconcile), and
the first worker's late writes are refused by the fence."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import AttemptState, LeadState
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import ClaimRequest, Store

from ..helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio
LEASE = 0.3


async def test_an_expired_lease_is_taken_over_and_fences_the_old_worker(
    store: Store, tmp_path: Path
) -> None:
    path = write_campaign(tmp_path, numbers(2))
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=10), 5, LEASE)
    placed, in_doubt = (await store.claim(campaign_id, "dead", request)).attempts
    assert await store.record_placed(placed, "dead", "call-1", "ongoing", LEASE)
    assert await store.record_in_doubt(in_doubt, "dead", "502")

    assert await store.take_over_expired(campaign_id, "heir", 30) == []  # leases still good
    ours = [placed.attempt_id, in_doubt.attempt_id]
    assert await store.renew_leases("dead", ours, LEASE) >= 1  # those due for renewal
    await anyio.sleep(LEASE + 0.2)
    taken = {a.attempt_id: a for a in await store.take_over_expired(campaign_id, "heir", 30)}
    assert set(taken) == {placed.attempt_id, in_doubt.attempt_id}
    assert (taken[placed.attempt_id].state, taken[placed.attempt_id].call_id) == (
        AttemptState.PLACED,
        "call-1",
    )
    assert taken[in_doubt.attempt_id].state is AttemptState.IN_DOUBT
    assert taken[placed.attempt_id].zone_key == placed.zone_key

    end = CallEnd("call-1", "ended", "user_hangup")
    done = Decision(LeadState.COMPLETED)
    assert not (
        await store.record_call_end(placed, "dead", done, end)
    ).written  # fenced: not its own
    assert await store.renew_leases("dead", ours, LEASE) == 0
    assert (await store.record_call_end(taken[placed.attempt_id], "heir", done, end)).written
    states = {r["to_number"]: r["state"] for r in await lead_rows(store)}
    assert states[placed.to_number] == LeadState.COMPLETED
    assert states[in_doubt.to_number] == LeadState.DIALING  # still in doubt, the heir's now


async def test_a_clean_stop_releases_leases_at_once(store: Store, tmp_path: Path) -> None:
    path = write_campaign(tmp_path, numbers(1))
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=10), 5, 30)
    (attempt,) = (await store.claim(campaign_id, "stopping", request)).attempts
    assert await store.record_placed(attempt, "stopping", "call-1", "ongoing", 30)
    await store.release_leases("stopping")
    (taken,) = await store.take_over_expired(campaign_id, "next", 30)
    assert taken.attempt_id == attempt.attempt_id
