"""The runner on the in-memory fakes: claim → create → follow → settle → retry, both ceilings
(across two runners and under the account's own limit), 429s and random faults — each run
checked at the fake API's records with the end-to-end tests' invariants."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import timedelta

import anyio
import pytest

from dialer.dialing.options import RunOutcome
from dialer.domain.states import AttemptState

from ..fakes import CreateFault, Ending, Faults
from ..helpers import answers, check_invariants, numbers
from .harness import Rig, peak_live

pytestmark = pytest.mark.anyio

NO_ANSWER = Ending("dial_no_answer", "not_connected", 20.0)
BUSY = Ending("dial_busy", "not_connected", 5.0)


async def test_leads_are_claimed_dialed_followed_settled_and_retried(rig: Rig) -> None:
    """300 leads: most answer at once, every third is not answered first and is called again
    after the backoff, every fifth is busy until its attempts run out."""
    nums = numbers(300)
    retried, busy = set(nums[::3]), set(nums[1::5])
    for number in retried:
        rig.api.endings[number] = [NO_ANSWER, Ending(seconds=15.0)]
    for number in busy - retried:
        rig.api.endings[number] = [BUSY] * 3
    rig.api.default_ending = Ending(seconds=10.0)
    campaign = rig.campaign(300, cps=10, cap=20, max_attempts=3, backoff="1m")

    result = await rig.run(campaign)

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    calls = check_invariants(records, max_attempts=3, cap=20, cps=10, jitter=0.01)
    states = rig.lead_states(campaign)
    for number in nums:
        if number in retried:
            expected = ("completed", 2)
        elif number in busy:
            expected = ("failed", 3)
        else:
            expected = ("completed", 1)
        assert (states[number], calls[number]) == (expected, expected[1]), number
    starts: dict[str, list[tuple[float, float]]] = {}
    for call in records["calls"]:
        starts.setdefault(call["to_number"], []).append((call["created"], call["terminal_at"]))
    for number in retried:  # called again after the backoff, not before
        (_, first_end), (second_start, _) = sorted(starts[number])
        assert second_start - first_end >= 60.0
    ended = rig.store.attempts.values()
    assert sum(a.state is AttemptState.ENDED for a in ended) == len(records["calls"])
    assert peak_live(records) == 20  # the cap was reached, and held


async def test_two_runners_keep_both_ceilings_campaign_wide(rig: Rig) -> None:
    """Two runners (two processes' worth) dial one campaign: together they never pass its
    concurrency cap or its dial rate, and no lead is dialed twice."""
    durations = random.Random(1)
    for number in numbers(300):
        rig.api.endings[number] = [Ending(seconds=durations.uniform(2.0, 8.0))]
    campaign = rig.campaign(300, cps=4, cap=8, max_attempts=1)
    first, second = rig.options("w1"), rig.options("w2")

    async with anyio.create_task_group() as group:
        group.start_soon(rig.run, campaign, first)
        group.start_soon(rig.run, campaign, second)

    records = rig.api.records()
    calls = check_invariants(records, max_attempts=1, cap=8, cps=4, jitter=0.01)
    assert len(calls) == 300 and set(calls.values()) == {1}
    assert peak_live(records) == 8
    placed_by = Counter(e["worker"] for e in rig.events("call_placed"))
    assert placed_by["w1"] > 0 and placed_by["w2"] > 0, placed_by
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}


async def test_the_account_limit_caps_below_the_campaign(rig: Rig) -> None:
    rig.api.concurrency_limit = 5
    rig.api.default_ending = Ending(seconds=5.0)
    campaign = rig.campaign(200, cps=20, cap=30, max_attempts=1)

    result = await rig.run(campaign)

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    check_invariants(records, max_attempts=1, cap=5)
    assert peak_live(records) == 5
    assert answers(records)["429-concurrency"] == 0  # planned below it, never refused


async def test_429s_hold_the_campaign_and_spend_no_attempt(rig: Rig) -> None:
    nums = numbers(200)
    for number in nums[::4]:
        rig.api.create_faults[number] = [CreateFault.RATE_LIMITED, CreateFault.RATE_LIMITED]
    campaign = rig.campaign(200, cps=20, cap=20, max_attempts=1)

    result = await rig.run(campaign)

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    assert answers(records)["429"] == 100
    calls = check_invariants(records, max_attempts=1, cap=20, cps=20, jitter=0.01)
    assert len(calls) == 200
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}
    # a 429 holds the campaign for its Retry-After: no claim, by this runner or any, for 1 s
    claimed = [a.created_at for a in rig.store.attempts.values()]
    for at in (r["at"] for r in records["creates"] if r["answer"] == "429"):
        refused = rig.time.start + timedelta(seconds=at)
        assert not [c for c in claimed if refused < c < refused + timedelta(seconds=0.999)]


async def test_random_faults_lose_no_call_and_dial_nobody_twice(rig: Rig) -> None:
    """Creates lost after the call was made, 5xx before, 429s, and failing reads, at random:
    every call made is recorded on exactly one attempt, every lead ends, none is called
    beyond its attempts or while its previous call lives."""
    rig.api.faults = Faults(lost=0.05, server_error=0.05, rate_limited=0.05, read_error=0.05)
    rig.api.default_ending = Ending(seconds=10.0)
    pool = {"from_numbers": ["+14155550101", "+14155550102"]}
    for number, n in zip(numbers(300), itertools.count(), strict=False):
        if n % 7 == 0:
            rig.api.endings[number] = [NO_ANSWER]
    campaign = rig.campaign(300, cps=15, cap=12, max_attempts=2, backoff="30s", extra=pool)

    result = await rig.run(campaign)

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    seen = answers(records)
    assert seen["dropped-after-create"] and seen["500-no-call"] and seen["429"], seen
    check_invariants(records, max_attempts=2, cap=12, cps=15, jitter=0.01)
    recorded = [a.call_id for a in rig.store.attempts.values() if a.call_id]
    assert sorted(recorded) == sorted(c["call_id"] for c in records["calls"])
    assert {s for s, _ in rig.lead_states(campaign).values()} <= {"completed", "failed"}
