"""Claiming, directly against the store on both databases: both ceilings hold across
concurrent claimers, the per-number daily limit defers, the do-not-call list skips, and two
campaigns cannot dial one number at once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState, SkipReason
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import Attempt, ClaimRequest, NumberBusyError, Store, open_store
from dialer.store.schema import attempts, suppressions

from ..helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio


async def _import(store: Store, path: Path) -> int:
    return (await import_campaign(store, read_campaign_file(path))).campaign_id


async def test_two_concurrent_claimers_keep_both_ceilings(store_url: str, tmp_path: Path) -> None:
    """Two processes' stores claim the same campaign at once, over and over: together they
    never hold more than the cap, and their dial slots are spaced 1/rate apart."""
    cps, cap = 40.0, 6
    path = write_campaign(tmp_path, numbers(40), name="pacing", cps=cps, cap=cap)
    first, second = await open_store(store_url), await open_store(store_url)
    try:
        campaign_id = await _import(first, path)
        request = ClaimRequest(Pacing(calls_per_second=cps, max_concurrent_calls=cap), 4, 30)
        got: list[Attempt] = []

        async def claimer(store: Store, worker: str) -> None:
            for _ in range(15):
                claim = await store.claim(campaign_id, worker, request)
                got.extend(claim.attempts)
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as group:
            group.start_soon(claimer, first, "w1")
            group.start_soon(claimer, second, "w2")
        assert len(got) == cap  # nothing ends here, so the cap is all there is
        assert len({a.lead_id for a in got}) == cap
        slots = sorted(a.send_at for a in got if a.send_at is not None)
        interval = timedelta(seconds=1 / cps)
        assert all(b - a >= interval for a, b in itertools.pairwise(slots))
        live = await first.live_attempts(campaign_id)
        assert live == cap
    finally:
        await first.close()
        await second.close()


async def test_the_daily_limit_defers_a_number_without_spending_an_attempt(
    store: Store, tmp_path: Path
) -> None:
    shared = numbers(1)[0]
    one = await _import(store, write_campaign(tmp_path, [shared], name="one"))
    two = await _import(
        store,
        write_campaign(
            tmp_path, [shared], name="two", extra={"max_attempts_per_number_per_day": 1}
        ),
    )
    pacing = Pacing(calls_per_second=50, max_concurrent_calls=10)
    (first,) = (await store.claim(one, "w", ClaimRequest(pacing, 5, 30))).attempts
    assert await store.record_placed(first, "w", "call-1", "ongoing", 30)
    ended = CallEnd("call-1", "ended", "user_hangup")  # its number is free again
    assert (await store.record_call_end(first, "w", Decision(LeadState.COMPLETED), ended)).written
    limited = ClaimRequest(pacing, 5, 30, per_number_per_day=1)
    assert (await store.claim(two, "w", limited)).attempts == []
    rows = {r["campaign_id"]: r for r in await lead_rows(store)}
    waiting = rows[two]
    assert (waiting["state"], waiting["attempts"]) == (LeadState.PENDING, 0)
    assert waiting["next_attempt_at"] == first.created_at + timedelta(days=1)


async def test_a_number_on_the_do_not_call_list_is_skipped(store: Store, tmp_path: Path) -> None:
    dnc, fine = numbers(2)
    campaign_id = await _import(store, write_campaign(tmp_path, [dnc, fine]))
    async with store.transaction() as conn:
        await conn.execute(
            suppressions.insert().values(
                to_number=dnc, reason="user_requested_dnc", created_at=await store.now(conn)
            )
        )
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=10), 5, 30)
    claim = await store.claim(campaign_id, "w", request)
    assert [a.to_number for a in claim.attempts] == [fine]
    rows = {r["to_number"]: r for r in await lead_rows(store)}
    assert (rows[dnc]["state"], rows[dnc]["skip_reason"]) == (
        LeadState.SKIPPED,
        SkipReason.DO_NOT_CALL,
    )


async def test_one_number_is_never_live_twice_across_campaigns(
    store: Store, tmp_path: Path
) -> None:
    """Two campaigns claim one number at the same moment. On Postgres the second claim cannot
    see the first one's attempt (not committed yet), and the store refuses its dial with
    NumberBusyError; on SQLite the claims take turns and the second finds the number busy.
    Either way one attempt is live, never two."""
    shared = numbers(1)[0]
    one = await _import(store, write_campaign(tmp_path, [shared], name="one"))
    two = await _import(store, write_campaign(tmp_path, [shared], name="two"))
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=10), 5, 30)
    second: list[object] = []

    async def claim_second() -> None:
        try:
            second.append(len((await store.claim(two, "w2", request)).attempts))
        except NumberBusyError:
            second.append("busy")

    # the first claim is held open a moment after it wrote its attempt, while the second runs
    real_write = type(store)._write_claims
    wrote = anyio.Event()

    async def write_then_hold(self: Store, *args: Any, **kwargs: Any) -> None:
        await real_write(self, *args, **kwargs)
        if not wrote.is_set():
            wrote.set()
            await anyio.sleep(0.5)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(store), "_write_claims", write_then_hold)
        async with anyio.create_task_group() as group:
            first: list[int] = []

            async def claim_first() -> None:
                first.append(len((await store.claim(one, "w1", request)).attempts))

            group.start_soon(claim_first)
            await wrote.wait()
            group.start_soon(claim_second)
    assert first == [1]
    assert second == (["busy"] if store.is_postgres else [0])
    async with store.engine.connect() as conn:
        live = await conn.scalar(
            select(func.count()).select_from(attempts).where(attempts.c.to_number == shared)
        )
    assert live == 1


async def test_consent_and_the_recall_gap_are_held_in_the_claim(
    store: Store, tmp_path: Path
) -> None:
    """require_consent skips leads without consent_at (reason recorded); min_recall_gap defers a
    number called by another campaign until the gap has passed, spending no attempt."""
    consenting, silent = numbers(2)
    leads_file = tmp_path / "consent-leads.csv"
    leads_file.write_text(f"to_number,consent_at\n{consenting},2026-03-01\n{silent},\n")
    path = tmp_path / "consent.yaml"
    path.write_text(
        "name: consent\nfrom_number: '+14155550100'\nleads: consent-leads.csv\n"
        "require_consent: true\nmin_recall_gap: 4h\n"
        "pacing: {calls_per_second: 50, max_concurrent_calls: 10}\n"
    )
    other = await _import(store, write_campaign(tmp_path, [consenting], name="other"))
    campaign_id = await _import(store, path)
    pacing = Pacing(calls_per_second=50, max_concurrent_calls=10)
    (earlier,) = (await store.claim(other, "w", ClaimRequest(pacing, 5, 30))).attempts
    assert await store.record_placed(earlier, "w", "call-0", "ongoing", 30)
    ended = CallEnd("call-0", "ended", "user_hangup")  # the number is free, but called lately
    assert (await store.record_call_end(earlier, "w", Decision(LeadState.COMPLETED), ended)).written
    request = ClaimRequest(pacing, 5, 30, require_consent=True, min_recall_gap=timedelta(hours=4))
    assert (await store.claim(campaign_id, "w", request)).attempts == []
    rows = {(r["campaign_id"], r["to_number"]): r for r in await lead_rows(store)}
    skipped = rows[(campaign_id, silent)]
    assert (skipped["state"], skipped["skip_reason"]) == (LeadState.SKIPPED, SkipReason.NO_CONSENT)
    waiting = rows[(campaign_id, consenting)]
    assert (waiting["state"], waiting["attempts"]) == (LeadState.PENDING, 0)
    assert waiting["next_attempt_at"] == earlier.created_at + timedelta(hours=4)
    assert waiting["wait_reason"] == "min_recall_gap"
    summary = await store.summary(campaign_id)
    assert summary.skipped_by_reason == {SkipReason.NO_CONSENT: 1}
    assert summary.waiting_by_reason == {"min_recall_gap": 1}
    assert waiting["consent_at"] == datetime(2026, 3, 1, tzinfo=UTC)
