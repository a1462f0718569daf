"""The experiment test, at the domain's level with the simulator's outcome model: 2,000 leads
split between two variants (dialer.domain.variants), each called once with its variant's agent,
the calls ending as the simulator's per-agent profiles make them, folded into funnels as the
store folds them (tests/store/test_experiments.py checks the store counts the same).

With B's agent planted 8 points better on the goal, the verdict names B ahead with an interval
of B - A that excludes zero, for each seed. With both agents alike (an A/A), at most one seed
in ten claims a winner: the test's own 5 % false-positive rate, not more."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.domain.experiment import ExperimentResult, Funnel, add_lead, compare
from dialer.domain.goal import parse_goal
from dialer.domain.variants import Variant, assign_variant

from ..fakes.planted import attempt_row, call_ends, planted_engine
from ..helpers import numbers

LEADS = 2_000
VARIANTS = [
    Variant(name="A", agent_id="agent_a", weight=50),
    Variant(name="B", agent_id="agent_b", weight=50),
]
GOAL = parse_goal("analysis.renewed == true")
# Realistic outcomes: about three calls in four connect (voicemail included), and a
# connected call renews as the agent's profile says.
_MIX = {"user_hangup": 50, "agent_hangup": 22, "dial_no_answer": 18, "voicemail_reached": 10}
_CONNECT = 82 / 100  # user_hangup + agent_hangup + voicemail_reached: status `ended`


def _profiles(renewed_a: float, renewed_b: float) -> dict[str, Any]:
    return {
        "agent_a": {"analysis": {"renewed": renewed_a}, "mix": _MIX},
        "agent_b": {"analysis": {"renewed": renewed_b}, "mix": _MIX},
    }


# B 8 points better on the goal per dialed lead: 30 % vs 38 % of connected calls x 82 %
PLANTED = _profiles(0.30 / _CONNECT, 0.38 / _CONNECT)
ALIKE = _profiles(0.30 / _CONNECT, 0.30 / _CONNECT)


def run(profiles: dict[str, Any], seed: int) -> ExperimentResult:
    campaign = f"experiment-{seed}"
    arms = [assign_variant(campaign, f"lead-{i}", VARIANTS) for i in range(LEADS)]
    engine, clock = planted_engine(profiles, seed)
    to = numbers(LEADS)
    ends = call_ends(
        engine, clock, [(to[i], str(arm.agent_id)) for i, arm in enumerate(arms) if arm]
    )
    funnels = {v.name: Funnel() for v in VARIANTS}
    for arm, end in zip(arms, ends, strict=True):
        assert arm is not None
        add_lead(funnels[arm.name], [attempt_row(end)], GOAL)
    return compare(funnels, GOAL)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_b_planted_8_points_better_is_named_ahead(seed: int) -> None:
    result = run(PLANTED, seed)
    (found,) = result.comparisons
    assert found.significant and found.difference.interval.low > 0, result.verdict
    assert result.verdict.startswith("B reaches the goal more often: "), result.verdict
    # within four standard errors (about 2 points each) of the 8 points planted
    assert 0.0 < found.difference.estimate < 0.165
    assert sum(f.dialed for f in result.funnels.values()) == LEADS


def test_an_a_a_run_does_not_claim_a_winner() -> None:
    results = [run(ALIKE, seed) for seed in range(1, 11)]
    claims = [r.verdict for r in results if r.comparisons[0].significant]
    assert len(claims) <= 1, claims
    for result in results:
        if not result.comparisons[0].significant:
            assert result.verdict.startswith("No variant is ahead yet: "), result.verdict
