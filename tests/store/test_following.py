"""Following once per fleet, on both stores: the following lease (taken, renewed, kept from
others while it runs, taken over once it ran out, given back), the campaign's placed calls its
holder asks about, and the ends it saw — each settled by the process holding its attempt."""

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

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio
ENDED = {"call_id": "call-1", "call_status": "ended", "disconnection_reason": "user_hangup"}


async def _campaign(store: Store, tmp_path: Path, count: int, name: str = "c") -> int:
    path = write_campaign(tmp_path, numbers(count), name=name)
    return (await import_campaign(store, read_campaign_file(path))).campaign_id


async def test_the_lease_is_taken_renewed_kept_and_taken_over(store: Store, tmp_path: Path) -> None:
    campaign = await _campaign(store, tmp_path, 1)
    other = await _campaign(store, tmp_path, 1, name="other")

    assert await store.hold_following(campaign, "a", 30)  # nobody held it
    assert await store.hold_following(campaign, "a", 30)  # renewed
    assert not await store.hold_following(campaign, "b", 30)  # a's, still running
    assert await store.hold_following(other, "b", 30)  # one lease per campaign

    assert await store.hold_following(campaign, "a", 0)  # a renews for no time at all: lost
    assert await store.hold_following(campaign, "b", 30)  # b takes it over
    assert not await store.hold_following(campaign, "a", 30)  # a lost it
    assert not await store.hold_following(other, "a", 30)


async def test_a_lease_runs_out_by_the_clock(store: Store, tmp_path: Path) -> None:
    campaign = await _campaign(store, tmp_path, 1)
    assert await store.hold_following(campaign, "dead", 0.3)
    assert not await store.hold_following(campaign, "heir", 30)
    await anyio.sleep(0.5)
    assert await store.hold_following(campaign, "heir", 30)
    assert not await store.hold_following(campaign, "dead", 30)


async def test_a_released_lease_is_taken_at_once(store: Store, tmp_path: Path) -> None:
    campaign = await _campaign(store, tmp_path, 1)
    assert await store.hold_following(campaign, "stopping", 30)
    await store.release_following(campaign, "someone else")  # only its holder gives it back
    assert not await store.hold_following(campaign, "next", 30)

    await store.release_following(campaign, "stopping")

    assert await store.hold_following(campaign, "next", 30)


async def test_seen_ends_go_to_the_process_holding_the_attempt(
    store: Store, tmp_path: Path
) -> None:
    campaign = await _campaign(store, tmp_path, 3)
    request = ClaimRequest(Pacing(calls_per_second=1000, max_concurrent_calls=10), 1, 30)
    (mine,) = (await store.claim(campaign, "mine", request)).attempts
    (theirs,) = (await store.claim(campaign, "theirs", request)).attempts
    (_unsent,) = (await store.claim(campaign, "theirs", request)).attempts
    assert await store.record_placed(mine, "mine", "call-1", "ongoing", 30)
    assert await store.record_placed(theirs, "theirs", "call-2", "ongoing", 30)

    placed = await store.placed_calls(campaign, "holder")
    assert placed == {mine.attempt_id: "call-1", theirs.attempt_id: "call-2"}  # not `unsent`
    assert await store.placed_calls(campaign, "mine") == {theirs.attempt_id: "call-2"}

    seen = [(mine.attempt_id, ENDED)]
    assert await store.record_seen_ends(campaign, seen) == 1
    assert await store.record_seen_ends(campaign, seen) == 0  # once
    assert await store.record_seen_ends(campaign, []) == 0
    assert await store.placed_calls(campaign, "holder") == {theirs.attempt_id: "call-2"}
    assert await store.seen_ends(campaign, "theirs") == []
    assert await store.seen_ends(campaign, "mine") == [(mine.attempt_id, ENDED)]

    end = CallEnd("call-1", "ended", "user_hangup")
    assert (await store.record_call_end(mine, "mine", Decision(LeadState.COMPLETED), end)).written
    assert await store.seen_ends(campaign, "mine") == []  # settled: nothing left to do


async def test_seen_ends_follow_an_attempt_taken_over(store: Store, tmp_path: Path) -> None:
    campaign = await _campaign(store, tmp_path, 1)
    request = ClaimRequest(Pacing(calls_per_second=1000, max_concurrent_calls=10), 1, 0)
    (attempt,) = (await store.claim(campaign, "dead", request)).attempts
    assert await store.record_placed(attempt, "dead", "call-1", "ongoing", 0)
    assert await store.record_seen_ends(campaign, [(attempt.attempt_id, ENDED)]) == 1

    (taken,) = await store.take_over_expired(campaign, "heir", 30)

    assert taken.attempt_id == attempt.attempt_id
    assert await store.seen_ends(campaign, "dead") == []
    assert await store.seen_ends(campaign, "heir") == [(attempt.attempt_id, ENDED)]


async def test_a_webhooks_end_is_written_for_the_attempts_process(
    store: Store, tmp_path: Path
) -> None:
    campaign = await _campaign(store, tmp_path, 1)
    request = ClaimRequest(Pacing(calls_per_second=1000, max_concurrent_calls=10), 1, 30)
    (attempt,) = (await store.claim(campaign, "w", request)).attempts
    assert not await store.record_seen_call("call-1", ENDED)  # not placed yet
    assert await store.record_placed(attempt, "w", "call-1", "ongoing", 30)

    assert await store.record_seen_call("call-1", ENDED)
    assert await store.record_seen_call("call-1", ENDED)  # again: nothing new
    assert not await store.record_seen_call("call-unknown", ENDED)

    assert await store.seen_ends(campaign, "w") == [(attempt.attempt_id, ENDED)]


async def test_seen_ends_are_announced(store: Store, tmp_path: Path) -> None:
    if not store.is_shared:
        pytest.skip("one process per SQLite store: nothing to announce")
    campaign = await _campaign(store, tmp_path, 1)
    request = ClaimRequest(Pacing(calls_per_second=1000, max_concurrent_calls=10), 1, 30)
    (attempt,) = (await store.claim(campaign, "w", request)).attempts
    assert await store.record_placed(attempt, "w", "call-1", "ongoing", 30)
    heard: list[int] = []
    freed: list[int] = []
    got = anyio.Event()

    def on_seen(campaign_id: int) -> None:
        heard.append(campaign_id)
        got.set()

    async with anyio.create_task_group() as group:
        group.start_soon(store.watch_freed_slots, freed.append, on_seen)
        await anyio.sleep(0.5)  # listening
        await store.record_seen_ends(campaign, [(attempt.attempt_id, ENDED)])
        with anyio.fail_after(10):
            await got.wait()
        group.cancel_scope.cancel()
    assert heard == [campaign] and freed == []
