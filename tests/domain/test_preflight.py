"""What `dialer doctor` concludes, table by table: the variables a prompt uses, how many leads
lack each, and what is wrong with a from-number or an agent."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.domain.preflight import (
    NO_AGENT,
    AgentBinding,
    AgentFacts,
    Finding,
    NumberFacts,
    Status,
    agent_findings,
    agents_to_check,
    analysis_fields,
    number_finding,
    summary,
    worst,
)
from dialer.domain.prompt_variables import (
    PromptUse,
    VariableTally,
    placeholders,
    provided_by_retell,
    set_during_call,
    unused_variables_finding,
    variable_findings,
)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"general_prompt": "Hi {{first_name}}"}, {"first_name": "llm general_prompt"}),
        ({"general_prompt": "Hi {{ first_name }}!"}, {"first_name": "llm general_prompt"}),
        (
            {"begin_message": "{{a}} {{b}}", "general_prompt": "{{a}}"},
            {"a": "llm begin_message", "b": "llm begin_message"},
        ),
        (
            {"states": [{"name": "offer", "state_prompt": "Offer the {{plan}} plan"}]},
            {"plan": "llm states[offer].state_prompt"},
        ),
        (
            {"nodes": [{"id": "start", "instruction": {"type": "prompt", "text": "{{x}}"}}]},
            {"x": "llm nodes[start].instruction.text"},
        ),
        ({"items": [{"text": "{{x}}"}]}, {"x": "llm items[0].text"}),
        (
            {"general_prompt": "It is {{current_time_America/New_York}}"},
            {"current_time_America/New_York": "llm general_prompt"},
        ),
        # a JSON example in a prompt is not a variable; nor is a single brace
        ({"general_prompt": 'Answer like {{"ok": true}} or {name}'}, {}),
        # defaults are values, not text Retell fills in
        ({"default_dynamic_variables": {"company": "{{not_a_use}}"}}, {}),
        ({"general_prompt": None, "version": 3}, {}),
    ],
)
def test_placeholders(document: dict[str, Any], expected: dict[str, str]) -> None:
    assert placeholders(document, "llm") == expected


@pytest.mark.parametrize(
    ("name", "provided"),
    [
        ("current_time", True),
        ("current_time_Australia/Sydney", True),
        ("current_calendar_Europe/Paris", True),
        ("user_number", True),
        ("agent_number", True),
        ("call_id", True),
        ("direction", True),
        ("first_name", False),
        ("current_timer", False),
        ("time", False),
    ],
)
def test_provided_by_retell(name: str, provided: bool) -> None:
    assert provided_by_retell(name) is provided


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"general_tools": [{"type": "custom", "response_variables": {"balance": "$.b"}}]},
            {"balance"},
        ),
        (
            {"nodes": [{"type": "extract_dynamic_variables", "variables": [{"name": "email"}]}]},
            {"email"},
        ),
        (
            {
                "states": [
                    {
                        "tools": [
                            {"type": "extract_dynamic_variable", "variables": [{"name": "zip"}]}
                        ]
                    }
                ]
            },
            {"zip"},
        ),
        ({"general_prompt": "{{first_name}}"}, set()),
    ],
)
def test_set_during_call(document: dict[str, Any], expected: set[str]) -> None:
    assert set_during_call(document) == expected


def _tally(rows: list[dict[str, str]], names: set[str]) -> VariableTally:
    tally = VariableTally(frozenset(names))
    for line, row in enumerate(rows, start=2):
        tally.add(row, line)
    return tally


FULL = [{"first_name": "Ann"}, {"first_name": "Bo"}, {"first_name": "Cy"}]
ONE_EMPTY = [{"first_name": "Ann"}, {"first_name": " "}, {"first_name": "Cy"}]
NO_COLUMN = [{"firstname": "Ann"}, {"firstname": "Bo"}]
YAML_SOME_ABSENT = [{"first_name": "Ann"}, {}, {}]


@pytest.mark.parametrize(
    ("rows", "defaults", "hook", "status", "words"),
    [
        (FULL, {}, False, Status.OK, "set in all 3 leads"),
        (ONE_EMPTY, {}, False, Status.WARN, "no value in 1 of 3 leads (the first at leads.csv:3)"),
        # an empty cell is sent empty: the agent's default does not rescue it
        (
            ONE_EMPTY,
            {"first_name": "there"},
            False,
            Status.WARN,
            "the agent's default does not apply",
        ),
        # a variable the call does not send at all gets the agent's default
        (
            YAML_SOME_ABSENT,
            {"first_name": "there"},
            False,
            Status.OK,
            "the agent's default 'there' in 2 of 3",
        ),
        (
            YAML_SOME_ABSENT,
            {},
            False,
            Status.WARN,
            "no value in 2 of 3 leads (the first at leads.csv:3)",
        ),
        (NO_COLUMN, {}, False, Status.FAIL, "no lead has a value"),
        (NO_COLUMN, {}, False, Status.FAIL, "(the list has 'firstname': a typo?)"),
        (NO_COLUMN, {}, True, Status.WARN, "the pre-dial hook must supply it"),
        ([], {}, False, Status.WARN, "the lead list has no leads"),
    ],
)
def test_a_lead_variable(
    rows: list[dict[str, str]], defaults: dict[str, str], hook: bool, status: Status, words: str
) -> None:
    use = PromptUse({"first_name": "llm general_prompt"}, agent_defaults=defaults)
    [finding] = variable_findings(
        use, _tally(rows, {"first_name"}), "leads.csv", hook_may_supply=hook
    )
    assert finding.subject == "{{first_name}}"
    assert finding.status is status
    assert words in finding.message


def test_variables_retell_or_the_agent_provide_are_never_missing() -> None:
    use = PromptUse(
        {"current_time": "llm general_prompt", "email": "flow nodes[ask].instruction.text"},
        set_in_call=frozenset({"email"}),
    )
    findings = variable_findings(use, _tally([{}], {"current_time", "email"}), "leads.csv")
    assert [(f.subject, f.status) for f in findings] == [
        ("{{current_time}}", Status.OK),
        ("{{email}}", Status.OK),
    ]


def test_variables_no_prompt_uses_are_named_but_dialer_s_own_state_is_not() -> None:
    tally = _tally([{"first_name": "A", "plan": "x", "state": "FL"}], {"first_name"})
    finding = unused_variables_finding([PromptUse({"first_name": "llm general_prompt"})], tally)
    assert finding == Finding(
        Status.WARN,
        "variables",
        "not used by the agent's prompts: plan (sent with every call anyway)",
    )
    assert unused_variables_finding([PromptUse({"first_name": "x", "plan": "x"})], tally) is None
    assert unused_variables_finding([], tally) is None  # no prompt read: nothing to compare


BOUND = (AgentBinding("agent_a"),)


@pytest.mark.parametrize(
    ("facts", "campaign_agent", "status", "words"),
    [
        (
            NumberFacts("+14155550100", found=False),
            None,
            Status.FAIL,
            "not a number of this workspace",
        ),
        (
            NumberFacts("+14155550100", found=False),
            "agent_a",
            Status.FAIL,
            "not a number of this workspace",
        ),
        (
            NumberFacts("+14155550100", found=True, number_type="retell-twilio"),
            None,
            Status.FAIL,
            "no outbound agent is bound",
        ),
        (
            NumberFacts("+14155550100", found=True),
            "agent_a",
            Status.OK,
            "no outbound agent bound, the campaign's agent_id agent_a dials",
        ),
        (
            NumberFacts(
                "+14155550100", found=True, number_type="retell-telnyx", outbound_agents=BOUND
            ),
            None,
            Status.OK,
            "retell-telnyx, outbound agent agent_a",
        ),
        (
            NumberFacts("+14155550100", found=True, outbound_agents=(AgentBinding("agent_a", 2),)),
            None,
            Status.OK,
            "outbound agent agent_a v2",
        ),
        (
            NumberFacts(
                "+14155550100", found=True, outbound_agents=BOUND, allowed_countries=("US",)
            ),
            None,
            Status.OK,
            "allowed to US only",
        ),
    ],
)
def test_a_from_number(
    facts: NumberFacts, campaign_agent: str | None, status: Status, words: str
) -> None:
    finding = number_finding(facts, campaign_agent)
    assert finding.subject == "from +14155550100"
    assert finding.status is status
    assert words in finding.message


def test_which_agents_dial() -> None:
    a, b = AgentBinding("agent_a"), AgentBinding("agent_b", 3)
    one = NumberFacts("+14155550100", found=True, outbound_agents=(a, b))
    two = NumberFacts("+14155550101", found=True, outbound_agents=(a,))
    bare = NumberFacts("+14155550102", found=True)
    # the campaign's agent_id overrides every number's binding
    assert agents_to_check("agent_x", [one, two]) == (AgentBinding("agent_x"),)
    # else every agent a from-number binds (a weighted pool picks any of them), once each
    assert agents_to_check(None, [one, two, bare]) == (a, b)
    assert agents_to_check(None, [bare]) == ()
    assert NO_AGENT.status is Status.FAIL


AGENT = AgentFacts(
    "agent_a",
    name="Renewals",
    version=3,
    is_published=True,
    engine_type="retell-llm",
    engine_id="llm_a",
    voicemail_action="hangup",
    analysis_fields=("renewed",),
)


@pytest.mark.parametrize(
    ("changes", "campaign_voicemail", "expected"),
    [
        (
            {},
            False,
            [
                (Status.OK, "'Renewals', version 3, published; retell-llm llm_a"),
                (Status.OK, "the agent hangs up"),
                (Status.OK, "extracts renewed"),
            ],
        ),
        (
            {"is_published": False},
            False,
            [
                (Status.WARN, "version 3 is a draft"),
                (Status.OK, "hangs up"),
                (Status.OK, "renewed"),
            ],
        ),
        (
            {"voicemail_action": None},
            False,
            [
                (Status.OK, "version 3"),
                (Status.WARN, "voicemail detection is off"),
                (Status.OK, "renewed"),
            ],
        ),
        (
            {"voicemail_action": None},
            True,
            [
                (Status.OK, "version 3"),
                (Status.OK, "the campaign's `voicemail:` settings apply"),
                (Status.OK, "renewed"),
            ],
        ),
        (
            {"voicemail_action": "static_text"},
            False,
            [
                (Status.OK, "version 3"),
                (Status.OK, "leaves a fixed message"),
                (Status.OK, "renewed"),
            ],
        ),
        (
            {"analysis_fields": ()},
            False,
            [
                (Status.OK, "version 3"),
                (Status.OK, "hangs up"),
                (Status.WARN, "no custom post-call analysis"),
            ],
        ),
        (
            {"engine_type": "custom-llm", "engine_id": "wss://x"},
            False,
            [
                (Status.OK, "custom-llm wss://x"),
                (Status.WARN, "not checked here"),
                (Status.OK, "hangs up"),
                (Status.OK, "renewed"),
            ],
        ),
        (
            {"engine_type": None, "engine_id": None},
            False,
            [
                (Status.OK, "no response engine"),
                (Status.FAIL, "it has no response engine"),
                (Status.OK, "hangs up"),
                (Status.OK, "renewed"),
            ],
        ),
        (
            {"engine_type": "speech-to-speech", "engine_id": "s2s_1"},
            False,
            [
                (Status.OK, "speech-to-speech s2s_1"),
                (Status.WARN, "is new to dialer: its {{variables}} are not checked"),
                (Status.OK, "hangs up"),
                (Status.OK, "renewed"),
            ],
        ),
    ],
)
def test_an_agent(
    changes: dict[str, Any], campaign_voicemail: bool, expected: list[tuple[Status, str]]
) -> None:
    facts = AgentFacts(**{**AGENT.__dict__, **changes})
    findings = agent_findings(facts, campaign_voicemail=campaign_voicemail)
    assert all(f.subject == "agent agent_a" for f in findings)
    assert len(findings) == len(expected)
    for finding, (status, words) in zip(findings, expected, strict=True):
        assert finding.status is status, finding
        assert words in finding.message, finding


def test_analysis_fields_leave_retell_s_presets_out() -> None:
    items = [
        {"type": "system-presets", "name": "call_summary"},
        {"type": "boolean", "name": "renewed", "description": "?"},
        {"type": "string"},
        "junk",
    ]
    assert analysis_fields(items) == ("renewed",)


@pytest.mark.parametrize(
    ("statuses", "verdict", "line"),
    [
        ([Status.OK, Status.OK], Status.OK, "all 2 checks passed"),
        ([Status.OK, Status.WARN], Status.WARN, "all 2 checks passed, 1 warning(s)"),
        (
            [Status.FAIL, Status.WARN, Status.OK],
            Status.FAIL,
            "1 of 3 checks failed, 1 warning(s): fix them before `dialer run`",
        ),
    ],
)
def test_verdict_and_summary(statuses: list[Status], verdict: Status, line: str) -> None:
    findings = [Finding(s, "x", "y") for s in statuses]
    assert worst(findings) is verdict
    assert summary(findings) == line
