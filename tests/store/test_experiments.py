"""An experiment's counts on both stores: per variant, the funnel of its leads (a lead's
variant as its attempts recorded it, else as `assign_variant` gives it) with their calls'
cost, and connect rate by state, local weekday and hour.

Planted outcomes (the simulator's model, per agent id) written through the store's own verbs
are counted as the domain folds them; the 2,000-lead experiment and its A/A runs are in
tests/domain/test_experiment_planted.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.experiment import Funnel, add_lead, compare
from dialer.domain.goal import parse_goal
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState
from dialer.domain.variants import Variant, assign_variant
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import Attempt, ClaimRequest, Store
from dialer.store.schema import attempts as attempts_table

from ..fakes.planted import attempt_row, call_ends, planted_engine
from ..helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio
VARIANTS = [
    {"name": "A", "agent_id": "agent_a", "weight": 50},
    {"name": "B", "agent_id": "agent_b", "weight": 50},
]
GOAL = "analysis.renewed == true"
# Every call connects, so the goal per dialed lead is the chance of `renewed`: 25 % vs 33 %.
_CONNECTS = {"user_hangup": 70, "agent_hangup": 30}
PLANTED = {
    "agent_a": {"analysis": {"renewed": 0.25}, "mix": _CONNECTS},
    "agent_b": {"analysis": {"renewed": 0.33}, "mix": _CONNECTS},
}


async def _campaign(store: Store, tmp_path: Path, count: int, name: str = "exp") -> int:
    path = write_campaign(
        tmp_path,
        numbers(count),
        name=name,
        cps=100_000,
        cap=100_000,
        max_attempts=2,
        extra={"variants": VARIANTS, "goal": GOAL},
    )
    return (await import_campaign(store, read_campaign_file(path))).campaign_id


async def _claim_all(store: Store, campaign_id: int) -> list[Attempt]:
    request = ClaimRequest(Pacing(calls_per_second=100_000, max_concurrent_calls=100_000), 500, 600)
    claimed: list[Attempt] = []
    while batch := (await store.claim(campaign_id, "w", request)).attempts:
        claimed += batch
    return claimed


async def _end(store: Store, attempt: Attempt, end: CallEnd, state: LeadState) -> None:
    assert await store.record_placed(attempt, "w", end.call_id, "ongoing", 600)
    assert (await store.record_call_end(attempt, "w", Decision(state), end)).written


async def test_funnels_and_heatmap_from_a_few_known_leads(store: Store, tmp_path: Path) -> None:
    campaign_id = await _campaign(store, tmp_path, 6)
    keys = {int(r["id"]): str(r["lead_key"]) for r in await lead_rows(store)}
    first = await _claim_all(store, campaign_id)
    assert len(first) == 6
    variants = [Variant.model_validate(v) for v in VARIANTS]
    renewed = {"call_successful": True, "custom_analysis_data": {"renewed": True}}
    ends = [
        CallEnd("c0", "ended", "user_hangup", duration_ms=45_000, analysis=renewed, cost_cents=10),
        CallEnd("c1", "ended", "user_hangup", duration_ms=5_000, cost_cents=2),
        CallEnd("c2", "not_connected", "dial_no_answer", cost_cents=0),
        CallEnd("c3", "error", "error_unknown"),
        CallEnd(
            "c4", "ended", "agent_hangup", duration_ms=31_000, analysis={"call_successful": True}
        ),
    ]
    for attempt, end in zip(first, ends, strict=False):
        await _end(store, attempt, end, LeadState.COMPLETED)
    # the sixth lead's create was refused: never dialed
    assert await store.record_not_placed(first[5], "w", Decision(LeadState.FAILED), error="422")
    # the first lead's attempt recorded variant B, whatever the hash says (the claim records it)
    async with store.engine.begin() as conn:
        await conn.execute(
            update(attempts_table)
            .where(attempts_table.c.id == first[0].attempt_id)
            .values(variant="B")
        )

    counts = await store.experiment_counts(campaign_id, "exp", variants, parse_goal(GOAL))
    expected = {"A": Funnel(), "B": Funnel()}
    for index, attempt in enumerate(first):
        arm = "B" if index == 0 else assign_variant("exp", keys[attempt.lead_id], variants).name  # type: ignore[union-attr]
        rows = [attempt_row(ends[index])] if index < 5 else [{"state": "not_placed"}]
        add_lead(expected[arm], rows, parse_goal(GOAL))
    assert counts.funnels == expected
    assert sum(f.leads for f in counts.funnels.values()) == 6
    assert sum(f.goal for f in counts.funnels.values()) == 1
    # five calls placed, all to New York numbers (+1 212): three connected
    cells = counts.heatmap.cells
    assert {state for state, _, _ in cells} == {"NY"}
    assert [sum(c[0] for c in cells.values()), sum(c[1] for c in cells.values())] == [5, 3]


async def test_without_variants_one_funnel_named_after_the_campaign(
    store: Store, tmp_path: Path
) -> None:
    path = write_campaign(tmp_path, numbers(3), name="plain")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    counts = await store.experiment_counts(campaign_id, "plain", [], None)
    assert counts.funnels == {"plain": Funnel(leads=3)}
    assert counts.heatmap.cells == {}


async def test_the_store_counts_what_the_domain_folds_of_planted_outcomes(
    store: Store, tmp_path: Path
) -> None:
    """200 leads dialed once, ended as the simulator's outcome model makes them (B's agent
    planted better), written through the store's verbs: the store's funnels are the domain's
    fold of the same calls (tests/domain/test_experiment_planted.py runs 2,000 leads so)."""
    campaign_id = await _campaign(store, tmp_path, 200)
    variants = [Variant.model_validate(v) for v in VARIANTS]
    keys = {int(r["id"]): str(r["lead_key"]) for r in await lead_rows(store)}
    claimed = await _claim_all(store, campaign_id)
    arms = [assign_variant("exp", keys[a.lead_id], variants) for a in claimed]
    engine, clock = planted_engine(PLANTED, seed=3)
    calls = [(a.to_number, str(arm.agent_id)) for a, arm in zip(claimed, arms, strict=True) if arm]
    ends = call_ends(engine, clock, calls)
    expected = {"A": Funnel(), "B": Funnel()}
    for attempt, arm, end in zip(claimed, arms, ends, strict=True):
        await _end(store, attempt, end, LeadState.COMPLETED)
        assert arm is not None
        add_lead(expected[arm.name], [attempt_row(end)], parse_goal(GOAL))
    counts = await store.experiment_counts(campaign_id, "exp", variants, parse_goal(GOAL))
    assert counts.funnels == expected
    assert sum(f.goal for f in expected.values()) > 0
    assert compare(counts.funnels, parse_goal(GOAL)) == compare(expected, parse_goal(GOAL))
