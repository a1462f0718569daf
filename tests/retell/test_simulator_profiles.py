"""The simulator's profiles per agent id and version: outcomes and analysis a test can plant,
read from a JSON file with the problem named when it cannot be used."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialer.cli import main
from dialer.simulator import AgentProfile, AgentProfiles, SimulatedRetell

from ..fakes.planted import KEY, call_ends, planted_engine


def test_a_version_s_profile_wins_over_its_agent_s() -> None:
    profiles = AgentProfiles.from_config(
        {"agent_b": {"call_successful": 0.1}, "agent_b@7": {"call_successful": 0.9}}
    )
    assert profiles.find("agent_b", 7) == AgentProfile(call_successful=0.9)
    assert profiles.find("agent_b", None) == AgentProfile(call_successful=0.1)
    assert profiles.find("agent_a", 7) is None


def test_calls_end_and_are_analysed_as_their_agent_s_profile_says() -> None:
    engine, clock = planted_engine(
        {
            "agent_a": {"mix": {"dial_busy": 1}},
            "agent_b": {
                "mix": {"user_hangup": 1},
                "analysis": {"renewed": 1.0, "plan": ["premium"], "tier": {"gold": 1, "tin": 0}},
                "call_successful": 0.0,
            },
        },
        seed=1,
    )
    calls = [("+12125550100", "agent_a"), ("+12125550101", "agent_b"), ("+12125550102", "other")]
    busy, planted, default = call_ends(engine, clock, calls)
    assert (busy.call_status, busy.disconnection_reason) == ("not_connected", "dial_busy")
    assert planted.disconnection_reason == "user_hangup"
    assert planted.analysis is not None and planted.analysis["call_successful"] is False
    custom = planted.analysis["custom_analysis_data"]
    assert (custom["renewed"], custom["plan"], custom["tier"]) == (True, "premium", "gold")
    assert default.call_status in {"ended", "not_connected", "error"}  # the default mix


def test_with_draws_per_number_a_call_ends_alike_in_whatever_order_creates_arrive() -> None:
    calls = [(f"+1212555{i:04d}", "agent_a") for i in range(40)]

    def ends(order: list[tuple[str, str]]) -> dict[str, tuple[object, ...]]:
        clock = [0.0]
        engine = SimulatedRetell(
            api_key=KEY,
            seed=5,
            clock=lambda: clock[0],
            concurrency_limit=1_000,
            profiles=AgentProfiles.from_config({"agent_a": {"analysis": {"renewed": 0.5}}}),
            draws_per_number=True,
        )
        found = call_ends(engine, clock, order)
        return {
            number: (e.disconnection_reason, e.duration_ms, json.dumps(e.analysis, sort_keys=True))
            for (number, _), e in zip(order, found, strict=True)
        }

    forward = ends(calls)
    assert forward == ends(calls[::-1])
    assert 0 < sum('"renewed": true' in e[2] for e in forward.values()) < len(calls)


def test_answer_by_hour_at_the_callee_s_local_hour() -> None:
    profile = AgentProfile(answer_by_hour={9: 0.0, 18: 1.0})
    rng = random.Random(1)
    new_york = "+12125550100"
    assert not profile.answered(rng, new_york, datetime(2026, 12, 7, 14, 10, tzinfo=UTC))  # 09:10
    assert profile.answered(rng, new_york, datetime(2026, 12, 7, 23, 10, tzinfo=UTC))  # 18:10
    assert profile.answered(rng, new_york, datetime(2026, 12, 7, 16, 0, tzinfo=UTC))  # not set


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "JSON object of agent id"),
        ({"a": []}, "a: a profile is an object"),
        ({"a": {"speed": 1}}, "a: unknown key 'speed'"),
        ({"a": {"analysis": {"renewed": 1.5}}}, r"a.analysis.renewed: 1.5 is not a chance"),
        ({"a": {"analysis": {"renewed": []}}}, "a.analysis.renewed: a chance, a list"),
        ({"a": {"mix": {"no_answer": 1}}}, "a.mix: no_answer is not a reason"),
        ({"a": {"answer_by_hour": {"25": 0.5}}}, "a.answer_by_hour: '25' is not an hour"),
        ({"a": {"call_successful": True}}, "a.call_successful: True is not a chance"),
    ],
)
def test_bad_profiles_name_the_problem(config: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AgentProfiles.from_config(config)


def test_the_cli_names_the_profiles_file_and_its_problem(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"agent_a": {"analysis": {"renewed": 2}}}))
    result = CliRunner().invoke(main, ["simulator", "--profiles", str(path)])
    assert result.exit_code == 2
    assert f"{path}: agent_a.analysis.renewed: 2 is not a chance between 0 and 1" in result.output
