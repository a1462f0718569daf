"""An experiment end to end, on both stores: a campaign with variants and a goal runs against
the simulator, whose profile for the campaign's agent decides each call's analysis; the
experiment's counts then hold every lead, every call and exactly the calls whose analysis met
the goal. (Until the claim records each lead's variant and its create carries the variant's
agent, both variants dial the campaign's agent: a planted difference between them is tested
at the domain's and the store's level, tests/domain/test_experiment_planted.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.reporting.experiment import read_experiment
from dialer.simulator import AgentProfiles, SimulatedRetell
from dialer.store import Store

from ..helpers import numbers, run_in_process, write_campaign

pytestmark = pytest.mark.anyio
LEADS = 40


async def test_a_run_s_calls_are_counted_per_variant_and_goal(store: Store, tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        numbers(LEADS),
        name="trial",
        cps=50,
        cap=20,
        max_attempts=1,
        extra={
            "agent_id": "agent_trial",
            "variants": [{"name": "A"}, {"name": "B"}],
            "goal": "analysis.renewed == true",
        },
    )
    profiles = AgentProfiles.from_config(
        {"agent_trial": {"analysis": {"renewed": 0.5}, "mix": {"user_hangup": 1}}}
    )
    engine = SimulatedRetell(speed=200, seed=11, profiles=profiles)  # analyses come late
    result = await run_in_process(store, engine, path)
    assert result is not None
    renewed = sum(1 for call in engine.calls.values() if call.answers["renewed"] is True)
    assert 0 < renewed < LEADS
    assert {call.agent_id for call in engine.calls.values()} == {"agent_trial"}

    row = await store.campaign("trial")
    assert row is not None
    experiment = await read_experiment(store, row)
    assert experiment is not None
    funnels = experiment.result.funnels
    assert list(funnels) == ["A", "B"]
    assert sum(f.leads for f in funnels.values()) == LEADS
    assert sum(f.dialed for f in funnels.values()) == LEADS
    assert sum(f.connected for f in funnels.values()) == LEADS
    assert sum(f.goal for f in funnels.values()) == renewed
    assert experiment.result.verdict.startswith("Too few data to compare yet")
    assert sum(c["calls"] for c in experiment.heatmap.as_json()) == LEADS
