"""`dialer doctor CAMPAIGN.yaml` against a simulator over HTTP, the way a person runs it before
a campaign: all good, a variable the list lacks, an agent or a number the account does not have,
a refused key, Retell unreachable, a campaign file that is not valid."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from dialer.cli import main
from dialer.simulator import SimulatedRetell, Workspace, run_simulator_in_thread

REPO = Path(__file__).resolve().parents[2]
KEY = "key_doctor_9f8e7d"  # must never appear in what doctor prints
FROM = "+14155550100"


@contextmanager
def simulator(config: dict[str, Any] | None = None) -> Iterator[str]:
    workspace = Workspace.from_config(config) if config is not None else None
    with run_simulator_in_thread(SimulatedRetell(api_key=KEY, workspace=workspace)) as server:
        yield server.url


def doctor(campaign: Path, base_url: str, key: str = KEY) -> Result:
    env = {"RETELL_API_KEY": key, "RETELL_BASE_URL": base_url}
    result = CliRunner().invoke(main, ["doctor", str(campaign)], env=env)
    assert KEY not in result.output
    return result


def campaign(tmp_path: Path, leads: str, **settings: Any) -> Path:
    (tmp_path / "leads.csv").write_text(leads)
    config = {"name": "doc", "from_number": FROM, "leads": "leads.csv", **settings}
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


LEADS = "to_number,first_name\n+12122000001,Ann\n+12122000002,Bo\n+12122000003,Cy\n"


def test_all_good_against_the_default_simulator(tmp_path: Path) -> None:
    """No agent_id: the from-number's outbound agent dials, and its prompt is checked."""
    with simulator() as url:
        result = doctor(campaign(tmp_path, LEADS), url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "ok   key: accepted by 'Simulated workspace' (key 'simulator')" in lines
    assert f"ok   from {FROM}: retell-twilio, outbound agent agent_simulated" in lines
    assert "ok   {{first_name}}: set in all 3 leads" in lines
    assert "ok   {{current_time}}: provided by Retell on every call" in lines
    assert lines[-1].startswith("all ") and lines[-1].endswith(" checks passed")
    assert result.stderr == ""


def test_the_demo_campaign_passes_with_its_accounts_file() -> None:
    config = yaml.safe_load((REPO / "campaigns" / "spring-retell.json").read_text())
    with simulator(config) as url:
        result = doctor(REPO / "campaigns" / "spring.yaml", url)
    assert result.exit_code == 0, result.output
    assert "ok   {{renewal_date}}: set in all 350 leads" in result.stdout
    # and without it the simulator does not know the demo's agent: a finding, not a crash
    with simulator() as url:
        result = doctor(REPO / "campaigns" / "spring.yaml", url)
    assert result.exit_code == 1
    assert (
        "FAIL agent agent_spring_renewal: no such agent in this workspace (the campaign's agent_id)"
        in result.stdout.splitlines()
    )


FLOW_ACCOUNT = {
    "agents": [
        {
            "agent_id": "agent_flow",
            "response_engine": {"type": "conversation-flow", "conversation_flow_id": "cf_1"},
            "voicemail_option": {"action": {"type": "hangup"}},
            "post_call_analysis_data": [{"type": "boolean", "name": "renewed", "description": "?"}],
        }
    ],
    "conversation_flows": [
        {
            "conversation_flow_id": "cf_1",
            "global_prompt": "You call {{first_name}} about account {{account_no}}.",
            "nodes": [
                {
                    "id": "greet",
                    "type": "conversation",
                    "instruction": {"type": "prompt", "text": "Greet {{first_name}}."},
                },
                {
                    "id": "ask",
                    "type": "extract_dynamic_variables",
                    "variables": [{"type": "string", "name": "email", "description": "Email"}],
                },
                {
                    "id": "confirm",
                    "type": "conversation",
                    "instruction": {"type": "static_text", "text": "We will write to {{email}}."},
                },
            ],
        }
    ],
    "phone_numbers": [
        {"phone_number": FROM, "outbound_agents": [{"agent_id": "agent_flow", "weight": 1}]}
    ],
}


def test_a_missing_variable_is_named_with_the_leads_that_lack_it(tmp_path: Path) -> None:
    leads = (
        "to_number,first_name,acount_no\n+12122000001,Ann,1\n+12122000002,,2\n+12122000003,Cy,3\n"
    )
    with simulator(FLOW_ACCOUNT) as url:
        result = doctor(campaign(tmp_path, leads), url)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert (
        "FAIL {{account_no}}: used in conversation-flow global_prompt; no lead has a value: add "
        "a column 'account_no' to the lead list or `dynamic_variables: {account_no: …}` to the "
        "campaign (the list has 'acount_no': a typo?)"
    ) in lines
    assert (
        "warn {{first_name}}: no value in 1 of 3 leads (the first at leads.csv:3): Retell leaves "
        "{{first_name}} in the prompt as written in those calls"
    ) in lines
    assert "ok   {{email}}: set by the agent during the call" in lines
    assert lines[-1].endswith("checks failed, 2 warning(s): fix them before `dialer run`")


def test_the_campaign_s_defaults_fill_a_variable(tmp_path: Path) -> None:
    path = campaign(tmp_path, LEADS, dynamic_variables={"account_no": "n/a"})
    with simulator(FLOW_ACCOUNT) as url:
        result = doctor(path, url)
    assert result.exit_code == 0, result.output
    assert "ok   {{account_no}}: set in all 3 leads" in result.stdout.splitlines()


def test_an_unknown_agent(tmp_path: Path) -> None:
    with simulator() as url:
        result = doctor(campaign(tmp_path, LEADS, agent_id="agent_nope"), url)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert (
        "FAIL agent agent_nope: no such agent in this workspace (the campaign's agent_id)" in lines
    )
    assert lines[-1].startswith("1 of ")


def test_numbers_not_owned_or_without_an_outbound_agent(tmp_path: Path) -> None:
    account = {"phone_numbers": [{"phone_number": FROM}]}
    path = campaign(tmp_path, LEADS, from_numbers=[FROM, "+14155550199"])
    with simulator(account) as url:
        result = doctor(path, url)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert (
        f"FAIL from {FROM}: no outbound agent is bound to it and the campaign sets no agent_id: "
        "bind an outbound agent at Retell, or set agent_id in the campaign"
    ) in lines
    assert (
        "FAIL from +14155550199: not a number of this workspace: buy it at Retell or import it "
        "(your telephony), or remove it from the campaign"
    ) in lines
    assert any(line.startswith("FAIL agent: no agent would answer") for line in lines)
    # with an agent_id the bare number is fine: the campaign's agent dials from it
    path = campaign(tmp_path, LEADS, agent_id="agent_simulated")
    with simulator(account) as url:
        result = doctor(path, url)
    assert result.exit_code == 0, result.output


def test_a_refused_key_exits_3_and_checks_nothing_more(tmp_path: Path) -> None:
    with simulator() as url:
        result = doctor(campaign(tmp_path, LEADS), url, key="key_wrong")
    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines() == [
        "FAIL key: Retell refused: Retell answered 401: Invalid API key or API key not found"
    ]
    assert result.stderr.splitlines() == [
        "Retell refused the key or the account: fix RETELL_API_KEY (or the account) and run "
        "doctor again"
    ]
    assert "key_wrong" not in result.output


def test_retell_unreachable_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = doctor(campaign(tmp_path, LEADS), f"http://127.0.0.1:{port}")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"cannot reach Retell at http://127.0.0.1:{port}: GET /get-api-key-info: ConnectError"
    )


def test_an_invalid_campaign_or_lead_list_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfrom_number: '+14155550100'\nleads: leads.csv\npacing: {cps: 2}\n")
    with simulator() as url:
        result = doctor(bad, url)
        assert result.exit_code == 2, result.output
        assert "bad.yaml:4: pacing.cps: unknown key" in result.stderr
        result = doctor(campaign(tmp_path, LEADS + "not-a-number,Dee\n"), url)
    assert result.exit_code == 2, result.output
    assert any(
        line.startswith("FAIL leads: 1 problem(s), the first: ") and "leads.csv:5" in line
        for line in result.stdout.splitlines()
    )
    no_key = CliRunner().invoke(main, ["doctor", str(bad)], env={"RETELL_API_KEY": ""})
    assert no_key.exit_code == 2


def test_the_simulator_refuses_a_bad_accounts_file(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text('{"agents": [{"agent_name": "no id"}]}')
    result = CliRunner().invoke(main, ["simulator", "--accounts", str(accounts)])
    assert result.exit_code == 2
    assert "agents[0]: agent_id is missing" in result.stderr
    assert "Traceback" not in result.output


def test_an_answer_not_in_retell_s_shape_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    odd = {"agents": [{"agent_id": "agent_odd", "response_engine": "retell-llm"}]}
    with simulator(odd) as url:
        result = doctor(campaign(tmp_path, LEADS, agent_id="agent_odd"), url)
    assert result.exit_code == 1, result.output
    assert any(
        line.startswith("FAIL agent agent_odd: an answer not in Retell's shape: get-agent: ")
        for line in result.stdout.splitlines()
    ), result.stdout
    assert "Traceback" not in result.output


def test_a_base_url_that_is_not_a_url_exits_2(tmp_path: Path) -> None:
    result = doctor(campaign(tmp_path, LEADS), "http://[::1")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "RETELL_BASE_URL 'http://[::1' is not a URL: Invalid port: ':1'"
    ]


def test_a_base_url_that_is_not_retell_is_said_once_not_blamed_on_the_number(
    tmp_path: Path,
) -> None:
    """RETELL_BASE_URL with a path (…/v2): every read answers 404. Doctor says the address is
    wrong, in one line, rather than that the from-number is not the workspace's."""
    with simulator() as url:
        result = doctor(campaign(tmp_path, LEADS), f"{url}/v2")
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"no Retell API at {url}/v2") and "RETELL_BASE_URL" in line
    assert "not a number of this workspace" not in result.stdout
