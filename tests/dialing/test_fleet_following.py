"""Following once per fleet, on the in-memory fakes: runners sharing a store (as on Postgres)
ask Retell which calls ended once per tick between them — whoever holds the campaign's
following lease —, each settles its own calls from what the holder saw, and when the holder
stops, another takes the lease over and nothing is left unfollowed."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import anyio
import pytest

from dialer.dialing.runner import CampaignRunner
from dialer.dialing.worker import Worker
from dialer.domain.campaign import Pacing
from dialer.domain.following import lease_period
from dialer.retell import PhoneCall
from dialer.retell.webhooks import CallEvent
from dialer.store import ClaimRequest

from ..fakes import Ending
from ..helpers import check_invariants, numbers
from .harness import Rig

pytestmark = pytest.mark.anyio
TICK = 0.25  # RunOptions.follow_tick_seconds


def _calls(rig: Rig, count: int) -> None:
    lengths = random.Random(3)
    for number in numbers(count):
        rig.api.endings[number] = [Ending(seconds=lengths.uniform(2.0, 8.0))]


async def _run_together(rig: Rig, campaign: int, workers: list[str]) -> float:
    """Run the campaign with one runner per worker to its end; the virtual seconds it took."""
    started = anyio.current_time()
    async with anyio.create_task_group() as group:
        for worker in workers:
            group.start_soon(rig.run, campaign, rig.options(worker))
    return anyio.current_time() - started


@pytest.mark.parametrize("workers", [1, 2, 3])
async def test_runners_sharing_a_store_ask_once_per_tick_between_them(
    rig: Rig, workers: int
) -> None:
    rig.store.shared = True
    _calls(rig, 200)
    campaign = rig.campaign(200, cps=4, cap=12, max_attempts=1)

    seconds = await _run_together(rig, campaign, [f"w{i}" for i in range(workers)])

    records = rig.api.records()
    calls = check_invariants(records, max_attempts=1, cap=12, cps=4, jitter=0.01)
    assert len(calls) == 200
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}
    asks = rig.api.requests["list-calls/ended"]
    assert asks <= seconds / TICK + 5, (asks, seconds)  # one a tick, whatever the workers
    placed_by = Counter(e["worker"] for e in rig.events("call_placed"))
    ended_by = Counter(e["worker"] for e in rig.events("call_ended"))
    assert ended_by == placed_by  # each settled its own calls, wherever their end was seen
    assert len(placed_by) >= min(workers, 2)  # the work was shared


async def test_a_holder_that_dies_is_replaced_and_no_call_is_left(rig: Rig) -> None:
    rig.store.shared = True
    _calls(rig, 150)
    campaign = rig.campaign(150, cps=4, cap=12, max_attempts=1)
    row = await rig.store.campaign(campaign)
    assert row is not None
    first = CampaignRunner(rig.store, rig.api, row, rig.options("w1", lease_seconds=5.0))

    async with anyio.create_task_group() as group:
        w1 = anyio.CancelScope()
        group.start_soon(_until_cancelled, first, w1)
        await anyio.sleep(10.0)  # w1 took the lease: it was alone
        assert rig.store.following[campaign][0] == "w1"
        group.start_soon(rig.run, campaign, rig.options("w2"))
        await anyio.sleep(5.0)
        assert rig.store.following[campaign][0] == "w1"  # kept while it lives
        w1.cancel()  # w1 dies mid-campaign, its calls live
        await anyio.sleep(0)
        # as after a SIGKILL: its following lease was not given back, it simply runs out
        period = lease_period(TICK)
        rig.store.following[campaign] = ("w1", rig.time.now() + timedelta(seconds=period))
        await anyio.sleep(period + 2 * TICK)
        assert rig.store.following[campaign][0] == "w2"  # within one lease period

    check_invariants(rig.api.records(), max_attempts=1, cap=12, cps=4, jitter=0.01)
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}
    ended_by = Counter(e["worker"] for e in rig.events("call_ended"))
    assert ended_by["w1"] > 0 and ended_by["w2"] > 0, ended_by


async def _until_cancelled(runner: CampaignRunner, scope: anyio.CancelScope) -> None:
    with scope:
        await runner.run()


async def test_a_webhook_for_another_process_call_is_written_for_it(rig: Rig) -> None:
    """A worker told of the end of a call it does not follow writes it to the store, where the
    process following the call settles it from (on SQLite no other process follows calls)."""
    rig.store.shared = True
    campaign = rig.campaign(1)
    request = ClaimRequest(Pacing(calls_per_second=1000, max_concurrent_calls=5), 1, 30)
    (attempt,) = (await rig.store.claim(campaign, "other", request)).attempts
    assert await rig.store.record_placed(attempt, "other", "call-9", "ongoing", 30)
    worker = Worker(rig.store, rig.api, lambda: rig.options("here"))

    await worker.on_call_event(
        CallEvent("call_started", PhoneCall(call_id="call-9", call_status="ongoing"))
    )
    assert await rig.store.seen_ends(campaign, "other") == []
    await worker.on_call_event(
        CallEvent("call_ended", PhoneCall(call_id="call-9", call_status="ended"))
    )

    ((seen_attempt, call),) = await rig.store.seen_ends(campaign, "other")
    assert seen_attempt == attempt.attempt_id and call["call_status"] == "ended"
