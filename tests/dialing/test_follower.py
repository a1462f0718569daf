"""The follower on its own, against the in-memory call API: every placed call is handed to
the end callback exactly once — whether a list, a get-call or a webhook saw its end first —
soon after it ends, with reads that stay within one list per tick; a call unreadable for a
while is still settled; late analyses are picked up."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import anyio
import pytest
import structlog

from dialer.dialing.followed import FollowedCall
from dialer.dialing.follower import CallFollower
from dialer.dialing.options import RunOptions
from dialer.retell import CreateCallRequest, PhoneCall, Placed
from dialer.store import Attempt

from ..fakes import Ending, MemoryCallApi
from ..helpers import numbers
from .harness import Rig

pytestmark = pytest.mark.anyio


class Ends:
    """What the follower handed over: each call's end (and when), and late details."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, float]] = []  # call id, source, virtual instant
        self.details: list[PhoneCall] = []

    async def on_end(self, followed: FollowedCall, call: PhoneCall, source: str) -> None:
        assert call.is_terminal
        self.seen.append((call.call_id, source, anyio.current_time()))

    async def on_analysis(self, call: PhoneCall) -> None:
        self.details.append(call)


async def _place(api: MemoryCallApi, count: int) -> list[tuple[Attempt, PhoneCall]]:
    placed = []
    for n, number in enumerate(numbers(count)):
        request = CreateCallRequest(
            from_number="+14155550100", to_number=number, metadata={"attempt_id": f"a{n}"}
        )
        outcome = await api.create_phone_call(request)
        assert isinstance(outcome, Placed)
        attempt = Attempt(f"a{n}", n, 1, 1, number, "", {}, {}, datetime.now(UTC))
        placed.append((attempt, outcome.call))
    return placed


def _follower(api: MemoryCallApi, ends: Ends, **options: object) -> CallFollower:
    opts = RunOptions(worker_id="w", **options)  # type: ignore[arg-type]
    log = structlog.get_logger("test")
    return CallFollower(api, opts, ends.on_end, log, on_analysis=ends.on_analysis)


def _durations(api: MemoryCallApi, count: int, seed: int = 2, longest: float = 120.0) -> None:
    rng = random.Random(seed)
    for number in numbers(count):
        api.endings[number] = [Ending(seconds=rng.uniform(5.0, longest))]


async def test_batched_following_settles_every_call_once_within_a_tick(rig: Rig) -> None:
    api, ends = rig.api, Ends()
    _durations(api, 300)
    follower = _follower(api, ends)
    async with anyio.create_task_group() as group:
        group.start_soon(follower.run)
        for attempt, call in await _place(api, 300):
            follower.follow(attempt, call)
        while len(follower) or follower.awaiting_details:
            await anyio.sleep(1.0)
        group.cancel_scope.cancel()

    assert Counter(call_id for call_id, _, _ in ends.seen) == Counter(set(api.calls))
    terminal_at = {c.call_id: c.terminal_at for c in api.calls.values()}
    late = [at - terminal_at[call_id] for call_id, _, at in ends.seen]
    assert all(0.0 <= delay <= 0.3 for delay in late), max(late)  # a tick (0.25 s) at most
    assert {source for _, source, _ in ends.seen} == {"list"}
    # one list-calls per tick for all 300 calls, not a read per call: 4 a second for the
    # ~125 s the calls last (and a few analysis passes); the per-call fallback within its
    # share of the read budget (40 % of 10 reads/s), besides one read per call for its
    # recording (list items come without)
    assert 4 * 110 <= api.requests["list-calls"] <= 4 * 130 + 20
    assert api.requests["get-call"] <= 300 + 0.4 * 10 * 130
    assert {c.call_id for c in ends.details if c.recording_url} == set(api.calls)


async def test_per_call_following_settles_every_call_once(rig: Rig) -> None:
    api, ends = rig.api, Ends()
    _durations(api, 200, longest=40.0)
    follower = _follower(api, ends, follow="get-call")
    async with anyio.create_task_group() as group:
        group.start_soon(follower.run)
        for attempt, call in await _place(api, 200):
            follower.follow(attempt, call)
        while len(follower):
            await anyio.sleep(1.0)
        group.cancel_scope.cancel()

    assert Counter(call_id for call_id, _, _ in ends.seen) == Counter(set(api.calls))
    assert {source for _, source, _ in ends.seen} == {"poll"}
    terminal_at = {c.call_id: c.terminal_at for c in api.calls.values()}
    assert all(at - terminal_at[call_id] <= 5.0 for call_id, _, at in ends.seen)


async def test_webhooks_and_lists_racing_settle_each_call_once(rig: Rig) -> None:
    api, ends = rig.api, Ends()
    _durations(api, 200, seed=3)
    follower = _follower(api, ends)
    placed = await _place(api, 200)

    async def webhooks() -> None:  # Retell posts each end the moment it happens
        for call in sorted(api.calls.values(), key=lambda c: c.terminal_at):
            await anyio.sleep(max(0.0, call.terminal_at - anyio.current_time()))
            assert await follower.report(await api.get_call(call.call_id))

    async with anyio.create_task_group() as group:
        group.start_soon(follower.run)
        for attempt, call in placed:
            follower.follow(attempt, call)
        group.start_soon(webhooks)
        while len(follower):
            await anyio.sleep(1.0)
        group.cancel_scope.cancel()

    assert Counter(call_id for call_id, _, _ in ends.seen) == Counter(set(api.calls))
    sources = Counter(source for _, source, _ in ends.seen)
    assert sources["webhook"] > 100, sources  # most ends came by webhook, none twice


async def test_calls_unreadable_for_minutes_are_still_settled(rig: Rig) -> None:
    api, ends = rig.api, Ends()
    _durations(api, 200, seed=4)
    follower = _follower(api, ends)
    async with anyio.create_task_group() as group:
        group.start_soon(follower.run)
        for attempt, call in await _place(api, 200):
            follower.follow(attempt, call)
        api.faults.read_error = 1.0  # every list and get-call fails for six minutes
        await anyio.sleep(360.0)
        assert not ends.seen
        api.faults.read_error = 0.0
        while len(follower):
            await anyio.sleep(1.0)
        group.cancel_scope.cancel()

    assert Counter(call_id for call_id, _, _ in ends.seen) == Counter(set(api.calls))
    assert rig.events("call_unreadable")  # said while it lasted
