"""Calling hours through the calling gate, on the virtual wall clock: a runner dials from the
minute a window opens until it closes and then waits for the next one; the gate on its own
re-plans the moment a window opens and reads the store's counts at most every 30 s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from dialer.dialing.calling_gate import CallingGate
from dialer.domain.calling_rules import PlaceFilter
from dialer.domain.pacing import CLAIM_HORIZON
from dialer.inputs.rule_book import calling_rules

from ..fakes import Ending, VirtualTime, VirtualWallClock
from .harness import Rig

pytestmark = pytest.mark.anyio

NEW_YORK = ZoneInfo("America/New_York")
# Tuesday 2026-11-24, 08:59:30 in New York (the leads' numbers are all 212: New York)
BEFORE_NINE = datetime(2026, 11, 24, 8, 59, 30, tzinfo=NEW_YORK).astimezone(UTC)
NINE_TO_TWO_PAST = {"calling_hours": {"start": "09:00", "end": "09:02"}}


@pytest.fixture
def rig(rig: Rig) -> Rig:
    """The store, the API and the wall clock at 08:59:30 in New York."""
    return Rig(rig.tmp_path, rig.logs, VirtualTime(BEFORE_NINE))


async def test_a_runner_dials_only_inside_the_window_then_waits_for_the_next(rig: Rig) -> None:
    rig.api.default_ending = Ending(seconds=10.0)
    campaign = rig.campaign(200, cps=1, cap=10, max_attempts=1, extra=NINE_TO_TWO_PAST)
    runner = await rig.runner(campaign, rig.options(wait_while_paused=True))

    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        while not (runner.stats.waiting_for_window and rig.api.calls and not runner.active_calls):
            await anyio.sleep(1.0)  # until the window has closed behind the last call
        await anyio.sleep(31.0)  # the gate counts the waiting leads again (every 30 s)
        runner.stop()

    opened = datetime(2026, 11, 24, 9, 0, tzinfo=NEW_YORK)
    closed = opened + timedelta(minutes=2)
    calls = rig.api.records()["calls"]
    dialed = sorted(rig.time.start + timedelta(seconds=c["created"]) for c in calls)
    claimed = sorted(a.created_at for a in rig.store.attempts.values())
    assert opened <= claimed[0] and dialed[0] <= opened + timedelta(seconds=1)  # at the opening
    assert claimed[-1] < closed  # every lead taken inside its window
    assert dialed[-1] <= claimed[-1] + CLAIM_HORIZON  # and dialed at its slot, just after
    assert len(dialed) >= 115  # the whole window dialed at its rate (1/s for 120 s)
    waiting = [s for s, _ in rig.lead_states(campaign).values() if s == "pending"]
    assert runner.stats.waiting_for_window == len(waiting) == 200 - len(dialed)
    assert runner.stats.next_window == opened + timedelta(days=1)


class CountedReads:
    """The store's place reads, counted."""

    def __init__(self, rig: Rig) -> None:
        self.store = rig.store
        self.reads = 0

    async def known_places(self, campaign_id: int) -> Any:
        return await self.store.known_places(campaign_id)

    async def waiting_by_place(self, campaign_id: int) -> Any:
        self.reads += 1
        return await self.store.waiting_by_place(campaign_id)


async def test_the_gate_opens_at_the_opening_and_reads_counts_every_30_s(rig: Rig) -> None:
    campaign = rig.campaign(50, extra=NINE_TO_TWO_PAST)
    row = await rig.store.campaign(campaign)
    assert row is not None
    store = CountedReads(rig)
    gate = CallingGate(
        store, campaign, calling_rules(row.settings()), VirtualWallClock(time=rig.time)
    )
    opened = datetime(2026, 11, 24, 9, 0, tzinfo=NEW_YORK)

    before = await gate.places()
    assert isinstance(before, PlaceFilter) and not before.dialable
    assert (gate.waiting, gate.next_opening) == (50, opened)
    await anyio.sleep((opened - rig.time.now()).total_seconds())
    at_nine = await gate.places()
    assert at_nine is not None and at_nine.dialable  # the moment it opens, not a second later
    assert gate.waiting == 0

    await anyio.sleep(31.0)
    reads = store.reads
    await gate.places()  # over 30 s since the counts were read: read now
    assert store.reads == reads + 1
    reads = store.reads
    for _ in range(950):  # 95 s of claims, ten a second: counts read again at 30, 60, 90 s
        await gate.places()
        await anyio.sleep(0.1)
    assert store.reads - reads == 3


async def test_a_campaign_no_rule_restricts_is_not_counted(rig: Rig) -> None:
    campaign = rig.campaign(20, extra={"state_rules": False})
    row = await rig.store.campaign(campaign)
    assert row is not None
    store = CountedReads(rig)
    gate = CallingGate(
        store, campaign, calling_rules(row.settings()), VirtualWallClock(time=rig.time)
    )
    assert await gate.places() is None
    assert store.reads == 0  # the places it was loaded with are known: nothing to count
    assert (gate.waiting, gate.next_opening) == (0, None)


async def test_a_window_closes_to_claims_at_its_end(rig: Rig) -> None:
    campaign = rig.campaign(5, extra=NINE_TO_TWO_PAST)
    row = await rig.store.campaign(campaign)
    assert row is not None
    gate = CallingGate(
        rig.store, campaign, calling_rules(row.settings()), VirtualWallClock(time=rig.time)
    )
    closes = datetime(2026, 11, 24, 9, 2, tzinfo=NEW_YORK)
    await anyio.sleep((closes - rig.time.now()).total_seconds() - 0.5)
    before = await gate.places()
    assert before is not None and before.dialable  # open half a second before the end
    await anyio.sleep(0.4)
    near = await gate.places()  # a claim now would give slots up to 0.25 s ahead: past it
    assert near is not None and not near.dialable  # closed to claims 0.1 s before the end
    await anyio.sleep(0.4)
    after = await gate.places()
    assert after is not None and not after.dialable  # and after it
