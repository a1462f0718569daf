"""Leases on the fakes: a runner that dies mid-campaign leaves its calls to the next, which
takes them over once the leases lapse and follows them to their end; a runner whose leases
lapse while it still runs loses its attempts to another and writes nothing over it. Nobody is
dialed twice either way."""

from __future__ import annotations

import inspect
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from dialer.dialing.options import RunOutcome
from dialer.dialing.runner import CampaignRunner
from dialer.domain.states import AttemptState

from ..fakes import CreateFault, Ending, MemoryStore
from ..helpers import check_invariants, numbers
from .harness import Rig

pytestmark = pytest.mark.anyio
LEASE = 10.0  # seconds; renewed every third of it


async def test_a_dead_runner_s_calls_are_taken_over_and_followed_to_their_end(rig: Rig) -> None:
    """The first runner dies (cancelled: no clean stop, its leases stand) with calls placed and
    creates in doubt; the second takes them over once the leases lapse, follows the placed
    calls, reconciles the ones in doubt, and finishes the campaign."""
    rig.api.default_ending = Ending(seconds=30.0)
    nums = numbers(150)
    for number in nums[:10]:
        rig.api.create_faults[number] = [CreateFault.LOST]
    campaign = rig.campaign(150, cps=10, cap=20, max_attempts=1)
    rig.api.faults.read_error = 1.0  # the dead runner never learns how its calls went

    with anyio.move_on_after(10.0):  # it dies 10 s in
        await rig.run(campaign, rig.options("dead", lease_seconds=LEASE))
    held = {a.id: a.state for a in rig.store.attempts.values() if a.claimed_by == "dead"}
    assert AttemptState.PLACED in held.values() and AttemptState.IN_DOUBT in held.values()
    assert all(a.lease_expires_at is not None for a in rig.store.attempts.values() if a.live)

    rig.api.faults.read_error = 0.0
    result = await rig.run(campaign, rig.options("heir", lease_seconds=LEASE))

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    calls = check_invariants(records, max_attempts=1, cap=20, cps=10, jitter=0.01)
    assert len(calls) == 150 and set(calls.values()) == {1}  # nobody dialed twice
    taken = {e["attempt"] for e in rig.events("attempt_taken_over")}
    assert taken == set(held)  # every attempt of the dead runner, and only those
    settled_by_heir = {a.id for a in rig.store.attempts.values() if a.claimed_by == "heir"}
    assert set(held) <= settled_by_heir
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}


class StalledStore:
    """The store as one runner sees it when its connection stalls (a long pause, a partition):
    while stalled, every verb it starts waits; the API still answers it."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._thawed: anyio.Event | None = None

    def stall(self) -> None:
        self._thawed = anyio.Event()

    def thaw(self) -> None:
        assert self._thawed is not None
        self._thawed.set()
        self._thawed = None

    def __getattr__(self, name: str) -> Any:
        verb = getattr(self._store, name)
        if not inspect.iscoroutinefunction(verb):
            return verb

        async def once_thawed(*args: Any, **kwargs: Any) -> Any:
            while self._thawed is not None:
                await self._thawed.wait()
            return await verb(*args, **kwargs)

        return once_thawed


async def test_a_runner_whose_leases_lapse_loses_its_attempts_and_writes_nothing(rig: Rig) -> None:
    """One runner's store stalls for a minute: its leases lapse, the other runner takes its
    attempts over (placed calls followed, unsent or unanswered creates reconciled) and ends
    them; once the stall ends, the first one's writes for them are refused by the fence."""
    rig.api.default_ending = Ending(seconds=30.0)
    campaign = rig.campaign(120, cps=10, cap=20, max_attempts=1)
    row = await rig.store.campaign(campaign)
    assert row is not None
    stalled = StalledStore(rig.store)
    options = rig.options("stalled", lease_seconds=LEASE)
    runner = CampaignRunner(stalled, rig.api, row, options)  # type: ignore[arg-type]

    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await anyio.sleep(1.0)  # it claims first
        group.start_soon(rig.run, campaign, rig.options("steady", lease_seconds=LEASE))
        await anyio.sleep(4.0)
        stalled.stall()
        held = {a.id for a in rig.store.attempts.values() if a.live}
        assert held and {rig.store.attempts[i].claimed_by for i in held} >= {"stalled"}
        held = {i for i in held if rig.store.attempts[i].claimed_by == "stalled"}
        await anyio.sleep(3 * LEASE)  # its leases lapse; the other's lease loop comes by
        stalled.thaw()

    records = rig.api.records()
    calls = check_invariants(records, max_attempts=1, cap=20, cps=10, jitter=0.01)
    assert len(calls) == 120 and set(calls.values()) == {1}  # nobody dialed twice
    for attempt_id in held:  # taken over and ended by the steady runner
        attempt = rig.store.attempts[attempt_id]
        assert (attempt.state, attempt.claimed_by) == (AttemptState.ENDED, "steady")
    refused = {e["attempt"] for e in rig.events("lease_lost") if e["worker"] == "stalled"}
    assert refused and refused <= held  # its late writes, for what it no longer held
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}
