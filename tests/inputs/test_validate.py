"""`dialer validate`: a corpus of bad inputs, each reported by file, line and field (exit 2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialer.cli import main

GOOD_CAMPAIGN = """\
name: spring
from_number: "+14155550100"
leads: leads.csv
pacing:
  calls_per_second: 2
  max_concurrent_calls: 5
"""
GOOD_LEADS = "to_number,first_name\n+14155550101,Ann\n+14155550102,Bob\n"


@dataclass
class Case:
    id: str
    campaign: str
    leads: bytes | str
    file: str  # the file the message must name
    line: int
    field: str
    words: str
    leads_name: str = "leads.csv"


CASES = [
    Case(
        "malformed-yaml",
        GOOD_CAMPAIGN + "retry: [unclosed\n",
        GOOD_LEADS,
        "campaign.yaml",
        8,
        "",
        "malformed YAML",
    ),
    Case(
        "unknown-key",
        GOOD_CAMPAIGN + "pacng: {}\n",
        GOOD_LEADS,
        "campaign.yaml",
        7,
        "pacng",
        "did you mean 'pacing'",
    ),
    Case(
        "unknown-nested-key",
        GOOD_CAMPAIGN.replace("max_concurrent_calls", "max_concurent_calls"),
        GOOD_LEADS,
        "campaign.yaml",
        6,
        "pacing.max_concurent_calls",
        "did you mean 'max_concurrent_calls'",
    ),
    Case(
        "missing-from-number",
        GOOD_CAMPAIGN.replace('from_number: "+14155550100"\n', ""),
        GOOD_LEADS,
        "campaign.yaml",
        1,
        "from_number",
        "required",
    ),
    Case(
        "invalid-from-number",
        GOOD_CAMPAIGN.replace("+14155550100", "4155550100"),
        GOOD_LEADS,
        "campaign.yaml",
        2,
        "from_number",
        "E.164",
    ),
    Case(
        "non-positive-rate",
        GOOD_CAMPAIGN.replace("calls_per_second: 2", "calls_per_second: 0"),
        GOOD_LEADS,
        "campaign.yaml",
        5,
        "pacing.calls_per_second",
        "more than 0; got 0",
    ),
    Case(
        "negative-concurrency",
        GOOD_CAMPAIGN.replace("max_concurrent_calls: 5", "max_concurrent_calls: -3"),
        GOOD_LEADS,
        "campaign.yaml",
        6,
        "pacing.max_concurrent_calls",
        "more than 0; got",
    ),
    Case(
        "bad-duration",
        GOOD_CAMPAIGN + "retry:\n  backoff: [30m, soon]\n",
        GOOD_LEADS,
        "campaign.yaml",
        8,
        "retry.backoff.1",
        "duration",
    ),
    Case(
        "nested-campaign-variable",
        GOOD_CAMPAIGN + "dynamic_variables:\n  company: {name: Acme}\n",
        GOOD_LEADS,
        "campaign.yaml",
        7,
        "dynamic_variables",
        "not a mapping",
    ),
    Case(
        "missing-lead-file",
        GOOD_CAMPAIGN.replace("leads.csv", "nope.csv"),
        GOOD_LEADS,
        "campaign.yaml",
        3,
        "leads",
        "not found",
    ),
    Case(
        "no-number-column",
        GOOD_CAMPAIGN,
        "name,plan\nAnn,gold\n",
        "leads.csv",
        1,
        "to_number",
        "no to_number column",
    ),
    Case(
        "invalid-number",
        GOOD_CAMPAIGN,
        "to_number,first_name\n+14155550101,Ann\nnot-a-number,Bob\n",
        "leads.csv",
        3,
        "to_number",
        "not a phone number",
    ),
    Case(
        "duplicate-number",
        GOOD_CAMPAIGN,
        "to_number,first_name\n+14155550101,Ann\n+1 (415) 555-0101,Bob\n",
        "leads.csv",
        3,
        "to_number",
        "duplicate number",
    ),
    Case(
        "missing-number",
        GOOD_CAMPAIGN,
        "to_number,first_name\n+14155550101,Ann\n,Bob\n",
        "leads.csv",
        3,
        "to_number",
        "missing",
    ),
    Case(
        "ragged-row",
        GOOD_CAMPAIGN,
        "to_number,first_name,plan\n+14155550101,Ann,gold\n+14155550102,Bob\n",
        "leads.csv",
        3,
        "",
        "2 fields, the header has 3",
    ),
    Case(
        "not-utf8",
        GOOD_CAMPAIGN,
        "to_number,first_name\n+14155550101,Ann\n+14155550102,Jos\xe9\n".encode("latin-1"),
        "leads.csv",
        3,
        "",
        "not UTF-8",
    ),
    Case(
        "unknown-timezone",
        GOOD_CAMPAIGN,
        "to_number,timezone\n+14155550101,America/Nowhere\n",
        "leads.csv",
        2,
        "timezone",
        "unknown time zone",
    ),
    Case(
        "duplicate-lead-id",
        GOOD_CAMPAIGN,
        "lead_id,to_number\nA1,+14155550101\nA1,+14155550102\n",
        "leads.csv",
        3,
        "lead_id",
        "duplicate lead_id",
    ),
    Case(
        "lead-id-too-long",
        GOOD_CAMPAIGN,
        "lead_id,to_number\n" + "x" * 201 + ",+14155550101\n",
        "leads.csv",
        2,
        "lead_id",
        "longer than 200 characters",
    ),
    Case(
        "yaml-nested-variable",
        GOOD_CAMPAIGN.replace("leads.csv", "leads.yaml"),
        "- to_number: '+14155550101'\n  retell_llm_dynamic_variables:\n    plan: [gold, silver]\n",
        "leads.yaml",
        3,
        "retell_llm_dynamic_variables.plan",
        "not a list",
        leads_name="leads.yaml",
    ),
    Case(
        "yaml-unknown-lead-key",
        GOOD_CAMPAIGN.replace("leads.csv", "leads.yaml"),
        "- to_number: '+14155550101'\n  dynamic_variables: {a: b}\n",
        "leads.yaml",
        2,
        "dynamic_variables",
        "did you mean 'retell_llm_dynamic_variables'",
        leads_name="leads.yaml",
    ),
    Case(
        "unknown-region",
        GOOD_CAMPAIGN + "default_region: XX\n",
        GOOD_LEADS,
        "campaign.yaml",
        7,
        "default_region",
        "unknown region",
    ),
    Case(
        "bad-calling-hours",
        GOOD_CAMPAIGN + "calling_hours:\n  start: '09:00'\n  end: '09:00'\n",
        GOOD_LEADS,
        "campaign.yaml",
        7,
        "calling_hours",
        "empty",
    ),
    Case(
        "bad-consent",
        GOOD_CAMPAIGN,
        "to_number,consent_at\n+14155550101,2026-03-01\n+14155550102,last spring\n",
        "leads.csv",
        3,
        "consent_at",
        "'last spring' is not an ISO date or date and time",
    ),
    Case(
        "bad-day-named",
        GOOD_CAMPAIGN + 'calling_hours: {start: "09:00", end: "20:00", days: [Mon, funday]}\n',
        GOOD_LEADS,
        "campaign.yaml",
        7,
        "calling_hours.days.1",
        "'funday' is not a day; expected mon, tue",
    ),
    Case(
        "state-rule-status-named",
        GOOD_CAMPAIGN + "state_rules:\n  GA: {weekdays: 09:00-20:00, status: confirm}\n",
        GOOD_LEADS,
        "campaign.yaml",
        8,
        "state_rules.GA.status",
        "'confirm' is not one of 'confirmed', 'secondary', 'unconfirmed' or 'campaign'; "
        "did you mean confirmed?",
    ),
    Case(
        "value-named",
        GOOD_CAMPAIGN.replace("calls_per_second: 2", "calls_per_second: -2"),
        GOOD_LEADS,
        "campaign.yaml",
        5,
        "pacing.calls_per_second",
        "must be more than 0; got -2",
    ),
    # steps: each rule's faults, located (the rules' model, then the checks across rules)
    *(
        Case(f"steps-{name}", GOOD_CAMPAIGN + body, GOOD_LEADS, "campaign.yaml", line, field, words)
        for name, body, line, field, words in [
            (
                "family",
                "steps:\n  - when: {outcome: voicemial}\n    then: complete\n",
                8,
                "steps.0.when.outcome.0",
                "did you mean voicemail?",
            ),
            (
                "two-actions",
                "steps:\n  - when: {outcome: voicemail}\n    then: {complete: true, skip: x}\n",
                9,
                "steps.0.then",
                "say exactly one of call, complete, skip or callback",
            ),
            (
                "reason",
                "steps:\n  - when: {reason: no_answer}\n    then: complete\n",
                8,
                "steps.0.when.reason",
                "did you mean dial_no_answer?",
            ),
            (
                "unreachable",
                "steps:\n  - then: complete\n  - when: {outcome: busy}\n    then: complete\n",
                9,
                "steps.1.when",
                "unreachable: steps.0 matches every call this one would",
            ),
            (
                "contradictory",
                "steps:\n  - when: {outcome: voicemail, reason: dial_busy}\n    then: complete\n",
                8,
                "steps.0.when",
                "never matches: reason dial_busy is never outcome voicemail",
            ),
            (
                "window",
                "steps:\n  - when: {outcome: busy}\n    then: {call: {at: night}}\n",
                9,
                "steps.0.then",
                "no window named 'night' in windows (none declared)",
            ),
            ("window-span", "windows: {evening: 17:00-16}\n", 7, "windows.evening", "not a window"),
        ]
    ),
]


def _write(tmp_path: Path, case: Case) -> Path:
    (tmp_path / "campaign.yaml").write_text(case.campaign)
    data = case.leads.encode() if isinstance(case.leads, str) else case.leads
    (tmp_path / case.leads_name).write_bytes(data)
    return tmp_path / "campaign.yaml"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_reported_with_file_line_and_field(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    prefix = f"{case.file}:{case.line}: "
    lines = [line for line in result.output.splitlines() if prefix in line]
    assert lines, f"expected a line with {prefix!r} in:\n{result.output}"
    expected_field = f"{prefix}{case.field}: " if case.field else prefix
    assert any(expected_field in line and case.words in line for line in lines), result.output
    # one line per problem: a union's branches do not each add one
    problems = [p for p in result.output.splitlines() if "nothing was stored" not in p]
    assert len(problems) == 1, result.output


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    leads = "to_number,first_name\nbad1,A\n+14155550101,B\nbad2,C\n+14155550101,D\n"
    case = Case("many", GOOD_CAMPAIGN + "pacng: 1\n", leads, "", 0, "", "")
    result = CliRunner().invoke(main, ["validate", str(_write(tmp_path, case))])
    assert result.exit_code == 2
    # the campaign file is checked first; its problem stops before the leads are read
    assert "pacng" in result.output
    case = Case("many", GOOD_CAMPAIGN, leads, "", 0, "", "")
    result = CliRunner().invoke(main, ["validate", str(_write(tmp_path, case))])
    assert result.exit_code == 2
    assert "leads.csv:2:" in result.output
    assert "leads.csv:4:" in result.output
    assert "leads.csv:5:" in result.output


def test_bom_crlf_and_quoted_commas_are_fine(tmp_path: Path) -> None:
    leads = '\ufeffto_number,first_name,plan\r\n+14155550101,Ann,"gold, plus"\r\n(415) 555-0102,Bob,"a ""quoted"" plan"\r\n'
    case = Case("ok", GOOD_CAMPAIGN + "default_region: US\n", leads, "", 0, "", "")
    result = CliRunner().invoke(main, ["validate", str(_write(tmp_path, case))])
    assert result.exit_code == 0, result.output
    assert "2 leads" in result.output


def test_validate_prints_the_compiled_steps(tmp_path: Path) -> None:
    body = "windows: {evening: 17:00-19:30}\nsteps:\n  - when: {outcome: voicemail}\n"
    body += "    then: {call: {at: evening, agent_id: agent_short}}\n"
    case = Case("ok", GOOD_CAMPAIGN + body, GOOD_LEADS, "", 0, "", "")
    result = CliRunner().invoke(main, ["validate", str(_write(tmp_path, case))])
    assert result.exit_code == 0, result.output
    assert (
        "  1. when outcome=voicemail → call again after 0s in window evening "
        "agent_id=agent_short  [steps]"
    ) in result.output
    assert "  2. when reason=user_requested_callback → callback next_day  [retry]" in result.output


def test_example_campaign_validates() -> None:
    path = Path(__file__).parents[2] / "campaigns" / "spring.yaml"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_a_lead_id_may_not_repeat_another_rows_number(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(
        "lead_id,to_number\n,+14155550101\n+14155550101,+14155550102\n"
        "+14155550109,+14155550103\n,+14155550109\n"
    )
    (tmp_path / "campaign.yaml").write_text(GOOD_CAMPAIGN)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "campaign.yaml")])
    assert result.exit_code == 2
    assert "leads.csv:3: lead_id: duplicate lead_id '+14155550101'" in result.output
    assert "leads.csv:5: to_number: +14155550109 is an earlier row's lead_id" in result.output
