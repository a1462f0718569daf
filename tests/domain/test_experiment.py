"""What an experiment's report says: the funnel stages a lead reached, the comparison of
variants and the sentence that says which is ahead — or that the data are too few."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dialer.domain.experiment import (
    MIN_DIALED,
    Funnel,
    Heatmap,
    add_lead,
    compare,
    cost_per,
    lead_stages,
    local_slot,
)
from dialer.domain.goal import parse_goal

GOAL = parse_goal('analysis.renewed == "yes"')


def _attempt(
    state: str = "ended",
    status: str | None = "ended",
    seconds: float = 0,
    renewed: str | None = None,
    successful: bool | None = None,
    cost: float | None = None,
) -> dict[str, Any]:
    analysis = None
    if renewed is not None or successful is not None:
        analysis = {"call_successful": successful, "custom_analysis_data": {"renewed": renewed}}
    return {
        "state": state,
        "call_status": status,
        "duration_ms": int(seconds * 1000),
        "analysis": analysis,
        "cost_cents": cost,
    }


@pytest.mark.parametrize(
    ("attempts", "stages"),
    [
        ([], {"leads"}),
        ([_attempt("not_placed", None)], {"leads"}),
        ([_attempt("in_doubt", None)], {"leads"}),
        ([_attempt(status="not_connected")], {"leads", "dialed"}),
        ([_attempt(status="error")], {"leads", "dialed"}),
        ([_attempt(seconds=12)], {"leads", "dialed", "connected"}),
        ([_attempt(seconds=30)], {"leads", "dialed", "connected", "talked_30s"}),
        (
            [_attempt(seconds=40, successful=True)],
            {"leads", "dialed", "connected", "talked_30s", "call_successful"},
        ),
        (
            [_attempt(seconds=10, renewed="yes", successful=False)],
            {"leads", "dialed", "connected", "goal"},
        ),
        (  # stages over all of a lead's attempts: a no-answer, then a call that renewed
            [
                _attempt(status="not_connected"),
                _attempt(seconds=90, renewed="Yes", successful=True),
            ],
            {"leads", "dialed", "connected", "talked_30s", "call_successful", "goal"},
        ),
        ([_attempt("placed", "ongoing", seconds=50)], {"leads", "dialed"}),  # still going
    ],
)
def test_the_stages_a_lead_reached(attempts: list[dict[str, Any]], stages: set[str]) -> None:
    assert lead_stages(attempts, GOAL) == stages


def test_without_a_goal_no_lead_reaches_it() -> None:
    assert "goal" not in lead_stages([_attempt(seconds=40, renewed="yes")], None)


def test_a_funnel_counts_each_lead_once_per_stage_and_adds_the_cost() -> None:
    funnel = Funnel()
    add_lead(
        funnel,
        [_attempt(status="not_connected", cost=1.5), _attempt(seconds=40, renewed="yes", cost=20)],
        GOAL,
    )
    add_lead(funnel, [], GOAL)
    assert (funnel.leads, funnel.dialed, funnel.connected, funnel.talked_30s, funnel.goal) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert funnel.cost_cents == pytest.approx(21.5)
    assert cost_per(funnel, "goal") == 0.215
    assert cost_per(Funnel(), "goal") is None


def _arm(dialed: int, goal: int, leads: int | None = None, cost: float = 0.0) -> Funnel:
    return Funnel(
        leads=leads or dialed, dialed=dialed, connected=dialed, goal=goal, cost_cents=cost
    )


def test_b_ahead_is_named_with_its_interval() -> None:
    result = compare({"A": _arm(1000, 234), "B": _arm(1000, 312)}, GOAL)
    (found,) = result.comparisons
    assert found.significant and found.difference.interval.low > 0
    assert result.verdict == (
        "B reaches the goal more often: 31.2 % vs 23.4 % of dialed leads (difference 7.8 "
        "points, 95 % CI 3.9–11.7, p < 0.0001; dialed: A 1,000, B 1,000)."
    )


def test_the_baseline_ahead_is_named_too() -> None:
    result = compare({"A": _arm(500, 150), "B": _arm(500, 100)}, GOAL)
    assert result.verdict.startswith("A reaches the goal more often: 30.0 % vs 20.0 %")
    assert "difference 10.0 points, 95 % CI 4.7–15.3, p = 0.0003" in result.verdict


def test_no_winner_says_how_many_more_leads_would_show_a_difference() -> None:
    result = compare({"A": _arm(400, 100), "B": _arm(400, 104)}, GOAL)
    assert not result.comparisons[0].significant
    # a 2-point difference from 25 % needs 7,550 per arm (Fleiss): 7,150 more than 400
    assert result.verdict == (
        "No variant is ahead yet: A 25.0 % vs B 26.0 % of dialed leads (dialed: A 400, B 400); "
        "about 7,150 more dialed leads per variant would show a difference of 2.0 points."
    )


def test_too_few_dialed_leads_give_no_verdict_whatever_the_test() -> None:
    result = compare({"A": _arm(MIN_DIALED - 1, 0), "B": _arm(200, 150)}, GOAL)
    assert result.verdict == (
        f"Too few data to compare yet: fewer than {MIN_DIALED} dialed leads in A "
        "(dialed: A 29, B 200)."
    )


def test_without_a_goal_call_successful_is_compared() -> None:
    arms = {"A": Funnel(100, 100, 80, 60, 20), "B": Funnel(100, 100, 80, 60, 45)}
    result = compare(arms, None)
    assert result.measure == "call_successful"
    assert result.verdict.startswith("B has successful calls more often: 45.0 % vs 20.0 %")
    # no goal row that would read 0 beside a verdict on call_successful
    assert "goal" not in result.stages and result.stages[-1] == "call_successful"
    assert all("goal" not in v["funnel"] for v in result.as_json()["variants"])
    assert "goal" in compare(arms, GOAL).stages


def test_three_variants_each_against_the_first_at_a_stricter_level() -> None:
    result = compare({"A": _arm(1000, 250), "B": _arm(1000, 290), "C": _arm(1000, 250)}, GOAL)
    assert [c.variant for c in result.comparisons] == ["B", "C"]
    assert result.comparisons[0].alpha == 0.025
    # p = 0.043: below 5 %, not below 2.5 %: not a winner among three
    assert 0.025 < result.comparisons[0].difference.p_value < 0.05
    assert result.verdict.startswith("No variant is ahead yet")
    # a winner among three is named with the interval of its level: 97.5 %
    clear = compare({"A": _arm(1000, 250), "B": _arm(1000, 250), "C": _arm(1000, 330)}, GOAL)
    assert clear.verdict.startswith("C reaches the goal more often: 33.0 % vs 25.0 %")
    assert "97.5 % CI" in clear.verdict


def test_the_json_carries_rates_intervals_and_costs() -> None:
    shown = compare(
        {"A": _arm(100, 20, leads=200, cost=1000), "B": _arm(100, 30, leads=200)}, GOAL
    ).as_json()
    first = shown["variants"][0]
    assert first["funnel"]["dialed"] == {"count": 100, "rate": 0.5, "ci95": [0.4314, 0.5686]}
    assert first["funnel"]["goal"]["rate"] == 0.2  # of dialed leads
    assert first["cost_per_goal_usd"] == 0.5
    assert shown["variants"][1]["cost_per_goal_usd"] == 0.0  # nothing spent
    assert shown["comparisons"][0]["variant"] == "B" and shown["goal"] == GOAL.text


@pytest.mark.parametrize(
    ("zones", "when", "slot"),
    [
        ("America/New_York|America/Chicago", datetime(2026, 12, 7, 14, 30, tzinfo=UTC), (0, 9)),
        ("America/Los_Angeles", datetime(2026, 12, 7, 3, 0, tzinfo=UTC), (6, 19)),  # Sunday
        ("", datetime(2026, 12, 7, 3, 0, tzinfo=UTC), (0, 3)),  # unknown: UTC
    ],
)
def test_local_slot(zones: str, when: datetime, slot: tuple[int, int]) -> None:
    assert local_slot(zones, when) == slot


def test_heatmap_counts_calls_and_connects_per_cell() -> None:
    heatmap = Heatmap()
    for connected in (True, False, True):
        heatmap.add("NY", 0, 9, connected)
    heatmap.add("CA", 1, 10, True)
    assert heatmap.cells == {("NY", 0, 9): [3, 2], ("CA", 1, 10): [1, 1]}
    assert heatmap.states() == ["NY", "CA"]
    assert heatmap.as_json()[1] == {
        "state": "NY",
        "weekday": "Mon",
        "hour": 9,
        "calls": 3,
        "connected": 2,
    }
