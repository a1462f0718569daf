"""The results outbox on both databases: events are written in the transaction of the change
they report (a rolled-back settle writes none), claimed one lead's at a time in order, and a
lease that lapses hands an event to another process."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select, update

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState
from dialer.domain.variants import Variant, assign_variant
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import Attempt, ClaimRequest, Store, open_store, settling
from dialer.store.schema import results_outbox

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio

HOOK = {"results_webhook": {"url": "http://127.0.0.1:9/hook", "secret_env": "CRM_SECRET"}}
REQUEST = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=10), 10, 30)


async def _campaign(store: Store, tmp_path: Path, count: int, **extra: Any) -> int:
    path = write_campaign(tmp_path, numbers(count), extra=extra)
    return (await import_campaign(store, read_campaign_file(path))).campaign_id


async def _end(store: Store, attempt: Attempt, state: LeadState = LeadState.COMPLETED) -> None:
    call_id = f"call-{attempt.attempt_id}"
    assert await store.record_placed(attempt, "w", call_id, "ongoing", 30)
    end = CallEnd(call_id, "ended", "user_hangup", duration_ms=42_000)
    assert (await store.record_call_end(attempt, "w", Decision(state), end)).written


async def _events(store: Store) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(results_outbox).order_by(results_outbox.c.id))
        return [dict(r._mapping) for r in rows]


async def test_a_settled_call_writes_its_attempt_then_its_lead(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _campaign(store, tmp_path, 2, **HOOK)
    first, second = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, first)
    await _end(store, second, LeadState.RETRY_WAIT)  # not finished: its attempt only
    events = await _events(store)
    assert [(e["lead_id"], e["kind"]) for e in events] == [
        (first.lead_id, "attempt_ended"),
        (first.lead_id, "lead_finished"),
        (second.lead_id, "attempt_ended"),
    ]
    ended, finished = events[0]["payload"], events[1]["payload"]
    assert ended["attempt_id"] == first.attempt_id and ended["duration_ms"] == 42_000
    assert (ended["state"], ended["disconnection_reason"]) == ("ended", "user_hangup")
    assert (finished["state"], finished["last_call_id"]) == (
        "completed",
        f"call-{first.attempt_id}",
    )
    assert {e["state"] for e in events} == {"pending"}
    assert len({e["event_id"] for e in events}) == 3


async def test_a_campaign_without_a_webhook_writes_no_event(store: Store, tmp_path: Path) -> None:
    campaign_id = await _campaign(store, tmp_path, 1)
    (attempt,) = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, attempt)
    assert await _events(store) == []


async def test_only_the_events_asked_for_are_written(store: Store, tmp_path: Path) -> None:
    only = {"results_webhook": {**HOOK["results_webhook"], "events": ["lead_finished"]}}
    campaign_id = await _campaign(store, tmp_path, 1, **only)
    (attempt,) = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, attempt)
    assert [e["kind"] for e in await _events(store)] == ["lead_finished"]


class _BoomError(Exception):
    pass


async def test_a_rolled_back_settle_writes_no_event(store: Store, tmp_path: Path) -> None:
    campaign_id = await _campaign(store, tmp_path, 1, **HOOK)
    (attempt,) = (await store.claim(campaign_id, "w", REQUEST)).attempts
    assert await store.record_placed(attempt, "w", "call-1", "ongoing", 30)

    real = settling.write_settle_events
    wrote: list[int] = []

    async def write_then_fail(conn: Any, *args: Any) -> None:
        await real(conn, *args)
        wrote.append(len((await conn.execute(select(results_outbox))).all()))
        raise _BoomError

    with pytest.MonkeyPatch.context() as patch:  # the settle fails once its events are written
        patch.setattr(settling, "write_settle_events", write_then_fail)
        with pytest.raises(_BoomError):
            end = CallEnd("call-1", "ended", "user_hangup")
            await store.record_call_end(attempt, "w", Decision(LeadState.COMPLETED), end)
    assert wrote == [2]
    assert await _events(store) == []
    end = CallEnd("call-1", "ended", "user_hangup")
    assert (await store.record_call_end(attempt, "w", Decision(LeadState.COMPLETED), end)).written
    assert [e["kind"] for e in await _events(store)] == ["attempt_ended", "lead_finished"]


async def test_a_cancel_finishes_waiting_leads_with_their_events(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _campaign(store, tmp_path, 3, **HOOK)
    assert await store.cancel(campaign_id) == 3
    events = await _events(store)
    assert [e["kind"] for e in events] == ["lead_finished"] * 3
    assert {e["payload"]["skip_reason"] for e in events} == {"campaign cancelled"}


async def test_events_carry_the_lead_s_variant(store: Store, tmp_path: Path) -> None:
    arms = [{"name": "A"}, {"name": "B", "agent_id": "agent_b"}]
    campaign_id = await _campaign(store, tmp_path, 2, agent_id="agent_a", variants=arms, **HOOK)
    placed, waiting = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, replace(placed, variant="B"))  # as the placer records it
    unsent = Decision(LeadState.PENDING, refund=True)
    assert await store.record_not_placed(waiting, "w", unsent, error=None, sent=False)
    assert await store.cancel(campaign_id) == 1  # finished never dialed: the hash's variant
    assigned = assign_variant("test", waiting.lead_key, [Variant.model_validate(v) for v in arms])
    assert assigned is not None
    events = [(e["kind"], e["payload"]["variant"]) for e in await _events(store)]
    assert events == [
        ("attempt_ended", "B"),
        ("lead_finished", "B"),
        ("lead_finished", assigned.name),
    ]


async def test_claims_keep_each_leads_order_and_leads_go_side_by_side(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _campaign(store, tmp_path, 2, **HOOK)
    first, second = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, first)
    await _end(store, second)
    round_one = await store.claim_results("p1", 10, 30)
    assert [(e.lead_id, e.kind) for e in round_one] == [
        (first.lead_id, "attempt_ended"),
        (second.lead_id, "attempt_ended"),
    ]
    assert round_one[0].webhook["secret_env"] == "CRM_SECRET" and round_one[0].campaign == "test"
    # each lead's next event waits for its first: not claimable, by anyone, while it is out
    assert await store.claim_results("p2", 10, 30) == []
    await store.record_result_delivered(round_one[0])
    assert not await store.record_result_failed(round_one[1], "HTTP 500", 0.5)
    round_two = await store.claim_results("p2", 10, 30)
    assert [(e.lead_id, e.kind) for e in round_two] == [(first.lead_id, "lead_finished")]
    # the failed one is due again in about a second, still ahead of its lead's next event
    delivery = (await store.results_delivery([campaign_id]))[campaign_id]
    assert (delivery.pending, delivery.delivered, delivery.dead) == (3, 1, 0)
    assert delivery.last_error == "HTTP 500" and delivery.oldest_pending_at is not None


async def test_a_lapsed_lease_hands_the_event_to_another_process(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _campaign(store, tmp_path, 1, **HOOK)
    (attempt,) = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, attempt)
    (taken,) = await store.claim_results("killed", 1, 0.3)  # then the process dies
    assert await store.claim_results("other", 10, 30) == []
    await anyio.sleep(0.5)
    (again,) = await store.claim_results("other", 10, 30)
    assert again.event_id == taken.event_id
    await store.record_result_delivered(again)
    (following,) = await store.claim_results("other", 10, 30)
    assert following.kind == "lead_finished"


async def test_an_event_past_its_24_hours_is_dead(store: Store, tmp_path: Path) -> None:
    campaign_id = await _campaign(store, tmp_path, 1, **HOOK)
    (attempt,) = (await store.claim(campaign_id, "w", REQUEST)).attempts
    await _end(store, attempt)
    async with store.transaction() as conn:
        old = await store.now(conn) - timedelta(hours=24)
        await conn.execute(update(results_outbox).values(created_at=old))
    (event,) = await store.claim_results("p", 10, 30)
    assert await store.record_result_failed(event, "ConnectError: refused", 0.5)
    (following,) = await store.claim_results("p", 10, 30)  # its lead's next goes on
    assert following.kind == "lead_finished"
    delivery = (await store.results_delivery([campaign_id]))[campaign_id]
    assert (delivery.pending, delivery.dead) == (1, 1)


async def test_a_lead_due_again_in_a_cancelled_campaign_finishes_after_its_attempt(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _campaign(store, tmp_path, 1, **HOOK)
    (attempt,) = (await store.claim(campaign_id, "w", REQUEST)).attempts
    assert await store.record_placed(attempt, "w", "call-1", "ongoing", 30)
    assert await store.cancel(campaign_id) == 0  # its one lead is in a call
    end = CallEnd("call-1", "ended", "dial_no_answer")
    assert (await store.record_call_end(attempt, "w", Decision(LeadState.RETRY_WAIT), end)).written
    events = await _events(store)
    assert [e["kind"] for e in events] == ["attempt_ended", "lead_finished"]
    assert events[1]["payload"]["skip_reason"] == "campaign cancelled"


async def test_concurrent_claimers_never_share_an_event(store_url: str, tmp_path: Path) -> None:
    first, second = await open_store(store_url), await open_store(store_url)
    try:
        campaign_id = await _campaign(first, tmp_path, 10, **HOOK)
        for attempt in (await first.claim(campaign_id, "w", REQUEST)).attempts:
            await _end(first, attempt)
        got: dict[str, list[str]] = {"a": [], "b": []}

        async def claimer(store: Store, name: str) -> None:
            for _ in range(10):
                for event in await store.claim_results(name, 2, 30):
                    got[name].append(event.event_id)
                    await store.record_result_delivered(event)

        async with anyio.create_task_group() as group:
            group.start_soon(claimer, first, "a")
            group.start_soon(claimer, second, "b")
        every = got["a"] + got["b"]
        assert len(every) == len(set(every)) == 20  # each of the 20 events, once
    finally:
        await first.close()
        await second.close()
