"""The store port's contract (dialer.dialing.ports), pgqueuer-style: one suite of behaviours
run against the in-memory store of tests/fakes and against the real store on SQLite and
Postgres, so the fake the fast runner tests use cannot drift from what the store does.

Leases that must have run out are given 0 seconds (no wall-clock wait); everything is read
back through the port's own verbs, and lead states through each store's rows."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from dialer.dialing.ports import ServingStore
from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision, after_not_placed
from dialer.domain.states import AttemptState, LeadState, SkipReason
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import ClaimRequest, Store

from ..fakes import MemoryStore
from ..helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio

INSTANT = 1e7  # calls per second: dial slots a microsecond apart (no rate ceiling to speak of)
ANSWERED = CallEnd("call-1", "ended", "user_hangup", duration_ms=30_000)
COMPLETED = Decision(LeadState.COMPLETED)


LeadView = tuple[str, int, str | None]  # state, attempts, skip reason


@dataclass
class Subject:
    """A store under test: the port, how a campaign file is loaded into it, and a campaign's
    leads by number."""

    store: ServingStore
    load: Callable[[Path], Awaitable[int]]
    leads: Callable[[int], Awaitable[dict[str, LeadView]]]


def _request(cps: float, cap: int, lease: float = 30.0, limit: int = 10) -> ClaimRequest:
    return ClaimRequest(Pacing(calls_per_second=cps, max_concurrent_calls=cap), limit, lease)


class StorePortContract:
    """What every implementation of the store port does."""

    async def test_a_claim_takes_no_more_than_the_cap(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(10)))
        store = subject.store

        claim = await store.claim(campaign, "w", _request(cps=50, cap=4))

        assert len(claim.attempts) == 4 and claim.free_slots == 0
        slots = [a.send_at for a in claim.attempts]
        assert all(s is not None for s in slots)
        gaps = {b - a for a, b in itertools.pairwise(slots)}  # type: ignore[operator]
        assert gaps == {timedelta(milliseconds=20)}  # 1/rate apart
        again = await store.claim(campaign, "w", _request(cps=50, cap=4))
        assert again.attempts == [] and again.free_slots == 0
        assert await store.live_attempts(campaign) == 4
        states = await subject.leads(campaign)
        assert list(states.values()).count(("dialing", 1, None)) == 4

    async def test_a_claim_keeps_the_rate(self, subject: Subject, tmp_path: Path) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(5)))
        store = subject.store
        request = _request(cps=0.1, cap=10)

        first = await store.claim(campaign, "w", request)
        second = await store.claim(campaign, "w", request)

        assert len(first.attempts) == 1  # a slot every 10 s: one within the claim's horizon
        assert second.attempts == [] and second.retry_in is not None
        assert 0 < second.retry_in <= 10.0
        wait = await store.reserve_dial_slot(campaign, request.pacing)
        assert 5.0 < wait <= 10.0  # the next slot is the one after the claimed lead's

    async def test_a_settle_frees_a_slot(self, subject: Subject, tmp_path: Path) -> None:
        nums = numbers(3)
        campaign = await subject.load(write_campaign(tmp_path, nums))
        store = subject.store
        request = _request(cps=INSTANT, cap=2)
        first, second = (await store.claim(campaign, "w", request)).attempts
        assert (await store.claim(campaign, "w", request)).attempts == []

        assert await store.record_placed(first, "w", "call-1", "registered", 30)
        assert (await store.record_call_end(first, "w", COMPLETED, ANSWERED)).written

        assert await store.live_attempts(campaign) == 1
        (third,) = (await store.claim(campaign, "w", request)).attempts
        assert third.to_number not in {first.to_number, second.to_number}
        states = await subject.leads(campaign)
        assert states[first.to_number] == ("completed", 1, None)
        assert await store.has_unfinished_leads(campaign)

    async def test_an_expired_lease_is_taken_over_as_it_stands(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(4)))
        store = subject.store
        placed, in_doubt, dialing = (
            await store.claim(campaign, "dead", _request(cps=INSTANT, cap=3, lease=0))
        ).attempts
        assert await store.record_placed(placed, "dead", "call-1", "ongoing", 0)
        assert await store.record_in_doubt(in_doubt, "dead", "502")
        (kept,) = (await store.claim(campaign, "alive", _request(cps=INSTANT, cap=4))).attempts

        taken = {a.attempt_id: a for a in await store.take_over_expired(campaign, "heir", 30)}

        assert set(taken) == {placed.attempt_id, in_doubt.attempt_id, dialing.attempt_id}
        assert kept.attempt_id not in taken  # its lease still runs
        assert (taken[placed.attempt_id].state, taken[placed.attempt_id].call_id) == (
            AttemptState.PLACED,
            "call-1",
        )
        assert taken[in_doubt.attempt_id].state is AttemptState.IN_DOUBT
        assert taken[dialing.attempt_id].state is AttemptState.DIALING
        assert taken[placed.attempt_id].number == 1
        assert taken[placed.attempt_id].to_number == placed.to_number
        assert await store.take_over_expired(campaign, "another", 30) == []  # the heir's now

    async def test_a_fenced_write_after_a_lost_lease_writes_nothing(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(3)))
        store = subject.store
        placed, in_doubt, dialing = (
            await store.claim(campaign, "dead", _request(cps=INSTANT, cap=3, lease=0))
        ).attempts
        assert await store.record_placed(placed, "dead", "call-1", "ongoing", 0)
        assert await store.record_in_doubt(in_doubt, "dead", "502")
        assert len(await store.take_over_expired(campaign, "heir", 30)) == 3
        before = await subject.leads(campaign)

        now = await store.now()
        not_placed = after_not_placed(1, now, retry_in=timedelta(0), error="late")
        assert not (await store.record_call_end(placed, "dead", COMPLETED, ANSWERED)).written
        assert not await store.record_not_placed(in_doubt, "dead", not_placed, error="late")
        assert not await store.record_placed(dialing, "dead", "call-9", "registered", 30)
        assert not await store.record_in_doubt(dialing, "dead", "late")
        ids = [placed.attempt_id, in_doubt.attempt_id, dialing.attempt_id]
        assert await store.renew_leases("dead", ids, 30) == 0

        assert await subject.leads(campaign) == before
        assert await store.live_attempts(campaign) == 3
        assert await store.in_doubt_count(campaign) == 1
        assert (await store.record_call_end(placed, "heir", COMPLETED, ANSWERED)).written

    async def test_released_leases_are_taken_over_at_once(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(2)))
        store = subject.store
        claimed = (await store.claim(campaign, "stopping", _request(cps=INSTANT, cap=5))).attempts
        assert await store.take_over_expired(campaign, "next", 30) == []

        await store.release_leases("stopping")

        taken = await store.take_over_expired(campaign, "next", 30)
        assert {a.attempt_id for a in taken} == {a.attempt_id for a in claimed}

    async def test_an_attempt_never_sent_is_given_back(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(1)))
        store = subject.store
        (attempt,) = (await store.claim(campaign, "w", _request(cps=INSTANT, cap=5))).attempts
        now = await store.now()
        decision = after_not_placed(1, now, retry_in=timedelta(0), error=None)

        assert await store.record_not_placed(attempt, "w", decision, error=None, sent=False)

        assert await subject.leads(campaign) == {attempt.to_number: ("pending", 0, None)}
        assert await store.live_attempts(campaign) == 0
        assert await store.take_over_expired(campaign, "w", 30) == []
        (again,) = (await store.claim(campaign, "w", _request(cps=INSTANT, cap=5))).attempts
        assert (again.lead_id, again.number) == (attempt.lead_id, 1)

    async def test_a_hold_stops_every_claim_until_it_ends(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(3)))
        store = subject.store
        await store.hold(campaign, 30)

        claim = await store.claim(campaign, "w", _request(cps=INSTANT, cap=5))

        assert claim.attempts == [] and claim.retry_in is not None
        assert 20 < claim.retry_in <= 30

    async def test_one_live_call_per_number_across_campaigns_and_dnc_for_all(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        shared = numbers(1)
        one = await subject.load(write_campaign(tmp_path, shared, name="one"))
        two = await subject.load(write_campaign(tmp_path, shared, name="two"))
        store = subject.store
        request = _request(cps=INSTANT, cap=5)
        (attempt,) = (await store.claim(one, "w", request)).attempts
        assert (await store.claim(two, "w", request)).attempts == []  # in a call already

        dnc = Decision(LeadState.COMPLETED, suppress_reason="user_requested_dnc")
        assert await store.record_placed(attempt, "w", "call-1", "ongoing", 30)
        assert (await store.record_call_end(attempt, "w", dnc, ANSWERED)).written

        assert (await store.claim(two, "w", request)).attempts == []
        skipped = ("skipped", 0, SkipReason.DO_NOT_CALL.value)  # on the store-wide list now
        assert await subject.leads(two) == {shared[0]: skipped}
        assert not await store.has_unfinished_leads(two)

    async def test_one_process_at_a_time_holds_the_following_lease(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(1)))
        store = subject.store

        assert await store.hold_following(campaign, "a", 30)
        assert await store.hold_following(campaign, "a", 30)
        assert not await store.hold_following(campaign, "b", 30)
        assert await store.hold_following(campaign, "a", 0)  # run out at once
        assert await store.hold_following(campaign, "b", 30)
        assert not await store.hold_following(campaign, "a", 30)
        await store.release_following(campaign, "b")
        assert await store.hold_following(campaign, "a", 30)

    async def test_seen_ends_reach_the_attempts_holder(
        self, subject: Subject, tmp_path: Path
    ) -> None:
        campaign = await subject.load(write_campaign(tmp_path, numbers(3)))
        store = subject.store
        request = _request(cps=INSTANT, cap=5, limit=1)
        (mine,) = (await store.claim(campaign, "mine", request)).attempts
        (theirs,) = (await store.claim(campaign, "theirs", request)).attempts
        assert (await store.claim(campaign, "theirs", request)).attempts  # never placed
        assert await store.record_placed(mine, "mine", "call-1", "ongoing", 30)
        assert await store.record_placed(theirs, "theirs", "call-2", "ongoing", 30)
        assert await store.placed_calls(campaign, "theirs") == {mine.attempt_id: "call-1"}
        assert await store.placed_calls(campaign, "holder") == {
            mine.attempt_id: "call-1",
            theirs.attempt_id: "call-2",
        }
        call = {"call_id": "call-1", "call_status": "ended"}

        assert await store.record_seen_ends(campaign, [(mine.attempt_id, call)]) == 1
        assert await store.record_seen_ends(campaign, [(mine.attempt_id, call)]) == 0

        assert await store.placed_calls(campaign, "holder") == {theirs.attempt_id: "call-2"}
        assert await store.seen_ends(campaign, "theirs") == []
        assert await store.seen_ends(campaign, "mine") == [(mine.attempt_id, call)]
        assert (await store.record_call_end(mine, "mine", COMPLETED, ANSWERED)).written
        assert await store.seen_ends(campaign, "mine") == []
        assert await store.record_seen_call("call-2", call)  # a webhook, elsewhere
        assert await store.seen_ends(campaign, "theirs") == [(theirs.attempt_id, call)]
        assert not await store.record_seen_call("call-1", call)  # settled already


class TestMemoryStore(StorePortContract):
    @pytest.fixture
    def subject(self) -> Subject:
        store = MemoryStore()

        async def load(path: Path) -> int:
            return store.load(read_campaign_file(path))

        async def leads(campaign: int) -> dict[str, LeadView]:
            return {
                r.to_number: (r.state.value, r.attempts, r.skip_reason)
                for r in store.leads.values()
                if r.campaign_id == campaign
            }

        return Subject(store, load, leads)


class TestStore(StorePortContract):
    @pytest.fixture
    def subject(self, store: Store) -> Subject:
        async def load(path: Path) -> int:
            return (await import_campaign(store, read_campaign_file(path))).campaign_id

        async def leads(campaign: int) -> dict[str, LeadView]:
            return {
                str(r["to_number"]): (str(r["state"]), r["attempts"], r["skip_reason"])  # type: ignore[misc]
                for r in await lead_rows(store)
                if r["campaign_id"] == campaign
            }

        return Subject(store, load, leads)
