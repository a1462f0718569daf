"""A lead's variant is its own for good, on both stores: a reload that reweights the variants
leaves every dialed lead in the arm its attempts recorded (the claim hands the runner that
variant), says so in the load's report, and a lead whose variant was removed gets the hash's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState
from dialer.domain.variants import Variant, assign_variant, dial_variant
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import ImportResult, import_campaign
from dialer.store import Attempt, ClaimRequest, Store

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio
EVEN = [{"name": "A", "weight": 50}, {"name": "B", "weight": 50}]
LOPSIDED = [{"name": "A", "weight": 1}, {"name": "B", "weight": 99}]
RENAMED = [{"name": "A", "weight": 50}, {"name": "C", "weight": 50}]
REQUEST = ClaimRequest(Pacing(calls_per_second=100_000, max_concurrent_calls=100_000), 500, 600)


async def _load(store: Store, tmp_path: Path, variants: list[dict[str, Any]]) -> ImportResult:
    path = write_campaign(tmp_path, numbers(40), name="exp", extra={"variants": variants})
    return await import_campaign(store, read_campaign_file(path))


async def _claim_all(store: Store, campaign_id: int) -> list[Attempt]:
    claimed: list[Attempt] = []
    while batch := (await store.claim(campaign_id, "w", REQUEST)).attempts:
        claimed += batch
    return claimed


def _arm(attempt: Attempt, variants: list[dict[str, Any]]) -> str:
    """The variant the placer gives the attempt (dialer.dialing.placer.take)."""
    arms = [Variant.model_validate(v) for v in variants]
    chosen = dial_variant(attempt.variant, "exp", attempt.lead_key, arms)
    assert chosen is not None
    return chosen.name


async def _place_and_retry(store: Store, attempt: Attempt, variant: str) -> None:
    placed = replace(attempt, variant=variant)  # what the placer records
    assert await store.record_placed(placed, "w", f"call-{attempt.attempt_id}", "ongoing", 600)
    end = CallEnd(f"call-{attempt.attempt_id}", "not_connected", "dial_no_answer")
    again = Decision(LeadState.RETRY_WAIT, next_attempt_at=await store.now())
    assert (await store.record_call_end(placed, "w", again, end)).written


async def test_a_dialed_lead_keeps_its_variant_after_a_reweight(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = (await _load(store, tmp_path, EVEN)).campaign_id
    first = await _claim_all(store, campaign_id)
    assert len(first) == 40 and all(a.variant is None for a in first)  # none recorded yet
    recorded = {a.lead_id: _arm(a, EVEN) for a in first}
    for attempt in first:
        await _place_and_retry(store, attempt, recorded[attempt.lead_id])

    report = (await _load(store, tmp_path, LOPSIDED)).report
    a_count = sum(v == "A" for v in recorded.values())
    assert report.notes == (
        "variants changed: A reweighted (50% → 1%), B reweighted (50% → 99%); "
        "40 dialed lead(s) keep their variant",
    )
    assert 0 < a_count < 40
    second = await _claim_all(store, campaign_id)
    assert len(second) == 40
    assert {a.lead_id: a.variant for a in second} == recorded  # the claim reads it back
    assert {a.lead_id: _arm(a, LOPSIDED) for a in second} == recorded  # and the call uses it
    # the hash alone would have moved most of A's leads to B
    lopsided = [Variant.model_validate(v) for v in LOPSIDED]
    hashed = {a.lead_id: assign_variant("exp", a.lead_key, lopsided) for a in second}
    assert sum(v is not None and v.name == "A" for v in hashed.values()) < a_count


async def test_a_lead_whose_variant_was_renamed_gets_the_hash_s(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = (await _load(store, tmp_path, EVEN)).campaign_id
    first = await _claim_all(store, campaign_id)
    recorded = {a.lead_id: _arm(a, EVEN) for a in first}
    for attempt in first:
        await _place_and_retry(store, attempt, recorded[attempt.lead_id])
    b_count = sum(v == "B" for v in recorded.values())

    (note,) = (await _load(store, tmp_path, RENAMED)).report.notes
    assert note.startswith(
        f"variants changed: B removed, C added; {40 - b_count} dialed lead(s) keep their "
        f"variant; {b_count} recorded B, no longer a variant"
    )
    second = await _claim_all(store, campaign_id)
    arms = {a.lead_id: _arm(a, RENAMED) for a in second}
    for lead_id, was in recorded.items():
        assert arms[lead_id] == was if was == "A" else arms[lead_id] in {"A", "C"}
