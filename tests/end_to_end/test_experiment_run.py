"""An experiment end to end, on both stores: a campaign with two variants and a goal runs
against the simulator, whose profiles (keyed on each variant's agent, or agent@version) decide
each call's analysis. Planted: B's agent version reaches the goal 30 points more often than A's
agent, and `dialer status --json` names B ahead with an interval that excludes zero. A/A: both
agents have the same profile, and no winner is claimed. In both, every call carries its
variant's agent and version, every attempt records the variant `assign_variant` gives its lead,
and `dialer report` and `dialer status` run on the campaign. The simulator draws each call's
outcome from its own generator (seed, number, call count), so a run ends the same whatever
order concurrent creates arrive in: the A/A's seed is not a lucky draw that may change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dialer.cli import main
from dialer.domain.variants import Variant, assign_variant
from dialer.simulator import AgentProfiles, SimulatedRetell
from dialer.store import Store
from dialer.store.schema import attempts, leads

from ..helpers import numbers, run_in_process, write_campaign

pytestmark = pytest.mark.anyio
LEADS = 300
VARIANTS = [
    {"name": "A", "agent_id": "agent_a", "weight": 50},
    {"name": "B", "agent_id": "agent_b", "agent_version": 7, "weight": 50},
]
PLANTED = {  # agent_b's version 7 is B's; agent_b alone (10 %) would make A the winner
    "agent_a": {"analysis": {"renewed": 0.3}, "mix": {"user_hangup": 1}},
    "agent_b": {"analysis": {"renewed": 0.1}, "mix": {"user_hangup": 1}},
    "agent_b@7": {"analysis": {"renewed": 0.6}, "mix": {"user_hangup": 1}},
}
ALIKE = {"analysis": {"renewed": 0.45}, "mix": {"user_hangup": 1}}


def _cli(*args: str) -> Any:
    """`dialer ARGS` in a thread (it runs its own event loop); its result, checked."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


async def _run(store: Store, store_url: str, tmp_path: Path, profiles: dict[str, Any]) -> Any:
    """Run the experiment to its end; check what every call and attempt carried; return
    the campaign's experiment as `dialer status --json` says it."""
    path = write_campaign(
        tmp_path,
        numbers(LEADS),
        name="trial",
        cps=400,
        cap=150,
        max_attempts=1,
        extra={
            "agent_id": "agent_campaign",
            "variants": VARIANTS,
            "goal": "analysis.renewed == true",
        },
    )
    engine = SimulatedRetell(
        speed=500,
        seed=23,
        concurrency_limit=200,
        profiles=AgentProfiles.from_config(profiles),
        draws_per_number=True,
    )
    result = await run_in_process(store, engine, path, limit_seconds=60)
    assert result is not None

    arm = {
        number: assign_variant("trial", number, [Variant.model_validate(v) for v in VARIANTS])
        for number in numbers(LEADS)
    }
    calls = engine.records()["calls"]
    assert len(calls) == LEADS
    for call in calls:  # each call used its variant's agent and version, never the campaign's
        variant = arm[call["to_number"]]
        assert variant is not None
        assert (call["agent_id"], call["agent_version"]) == (
            variant.agent_id,
            variant.agent_version or 1,
        )
    async with store.engine.connect() as conn:
        recorded = list(
            await conn.execute(
                select(leads.c.lead_key, attempts.c.variant).join(
                    leads, leads.c.id == attempts.c.lead_id
                )
            )
        )
    assert len(recorded) == LEADS
    for key, name in recorded:
        variant = arm[key]
        assert variant is not None and name == variant.name

    url = ["--database-url", store_url]
    status = await anyio.to_thread.run_sync(lambda: _cli("status", "trial", "--json", *url))
    await anyio.to_thread.run_sync(lambda: _cli("status", "trial", *url))
    page = tmp_path / "trial-report.html"
    await anyio.to_thread.run_sync(lambda: _cli("report", "trial", "-o", str(page), *url))
    assert "Experiment" in page.read_text(encoding="utf-8")
    experiment = json.loads(status.output.strip().splitlines()[-1])["experiment"]
    funnels = {v["name"]: v["funnel"] for v in experiment["variants"]}
    assert sum(f["dialed"]["count"] for f in funnels.values()) == LEADS
    renewed = sum(1 for call in engine.calls.values() if call.answers["renewed"] is True)
    assert sum(f["goal"]["count"] for f in funnels.values()) == renewed
    return experiment


async def test_b_planted_30_points_better_is_named_ahead(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    experiment = await _run(store, store_url, tmp_path, PLANTED)
    (comparison,) = experiment["comparisons"]
    assert (comparison["variant"], comparison["against"]) == ("B", "A")
    assert comparison["significant"] is True
    low, high = comparison["ci95"]
    assert 0 < low <= comparison["difference"] <= high  # the interval excludes zero
    assert comparison["p_value"] < 0.05
    assert experiment["verdict"].startswith("B reaches the goal more often")


async def test_an_a_a_run_claims_no_winner(store: Store, store_url: str, tmp_path: Path) -> None:
    experiment = await _run(store, store_url, tmp_path, {"agent_a": ALIKE, "agent_b@7": ALIKE})
    (comparison,) = experiment["comparisons"]
    assert comparison["significant"] is False
    low, high = comparison["ci95"]
    assert low < 0 < high
    assert experiment["verdict"].startswith("No variant is ahead yet")
