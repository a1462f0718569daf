"""Lead lists as people export them: other separators, a state column that is not a US state,
premium-rate and service numbers, lists with no leads, text with control characters."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dialer.cli import main
from dialer.inputs.campaign_file import read_campaign_file
from dialer.inputs.leads import Lead, LeadScan, iter_leads

CAMPAIGN = 'name: c\nfrom_number: "+14155550100"\nleads: leads.csv\ndefault_region: US\n'


def scan_leads(tmp_path: Path, rows: str | bytes, extra: str = "") -> tuple[list[Lead], LeadScan]:
    (tmp_path / "c.yaml").write_text(CAMPAIGN + extra)
    data = rows.encode() if isinstance(rows, str) else rows
    (tmp_path / "leads.csv").write_bytes(data)
    scan = LeadScan()
    leads = list(iter_leads(read_campaign_file(tmp_path / "c.yaml"), scan))
    return leads, scan


def problems(scan: LeadScan) -> list[str]:
    return [f"{p.line}: {p.field}: {p.message}" for p in scan.problems]


@pytest.mark.parametrize("separator", [";", "\t", "|", ","])
def test_a_spreadsheet_export_with_another_separator_is_read(
    tmp_path: Path, separator: str
) -> None:
    header = separator.join(["Phone", "first_name", "plan"])
    rows = f'\ufeff{header}\r\n+14155550101{separator}Ann{separator}"gold{separator} plus"\r\n'
    leads, scan = scan_leads(tmp_path, rows)
    assert problems(scan) == []
    assert leads[0].to_number == "+14155550101"
    assert leads[0].dynamic_variables == {"first_name": "Ann", "plan": f"gold{separator} plus"}


def test_a_header_without_a_number_column_names_the_separators_it_holds(tmp_path: Path) -> None:
    _, scan = scan_leads(tmp_path, "name,plan\nAnn,gold\n")
    assert problems(scan) == [
        "1: to_number: no to_number column (header has: name, plan); the header holds ',', "
        "and read with any of ',', ';', tab or '|' it has no to_number, phone or phone_number "
        "column"
    ]
    _, scan = scan_leads(tmp_path, "name\nAnn\n")
    assert problems(scan) == [
        "1: to_number: no to_number column (header has: name); name the column to_number, "
        "phone or phone_number"
    ]


def test_a_state_column_is_judged_only_where_state_rules_are_on(tmp_path: Path) -> None:
    rows = "to_number,state\n+14165550101,ON\n+14155550102,fl\n"
    _, scan = scan_leads(tmp_path, rows)
    assert [p.line for p in scan.problems] == [2]
    assert "'ON' is not a US state" in scan.problems[0].message
    leads, scan = scan_leads(tmp_path, rows, "state_rules: false\n")
    assert problems(scan) == []
    ontario, florida = leads
    # a plain variable, and not the lead's state: only its area code's (none for Toronto)
    assert ontario.dynamic_variables == {"state": "ON"} and ontario.states == ""
    assert florida.dynamic_variables == {"state": "fl"} and florida.states == "CA"


def test_a_yaml_state_is_judged_only_where_state_rules_are_on(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        CAMPAIGN.replace("leads.csv", "leads.yaml") + "state_rules: false\n"
    )
    (tmp_path / "leads.yaml").write_text('- {to_number: "+14165550101", state: ON}\n')
    scan = LeadScan()
    (lead,) = iter_leads(read_campaign_file(tmp_path / "c.yaml"), scan)
    assert scan.problems == [] and lead.states == ""


def test_premium_rate_and_service_numbers_are_refused_unless_allowed(tmp_path: Path) -> None:
    rows = (
        "to_number,alt_number_1\n+19005550101,\n+12129760101,\n+12124110101,\n"
        "+14155550102,+12129110102\n+18005550103,\n+14155550199,\n"
    )
    leads, scan = scan_leads(tmp_path, rows)
    assert [(p.line, p.field) for p in scan.problems] == [
        (2, "to_number"),
        (3, "to_number"),
        (4, "to_number"),
        (5, "alt_number_1"),
    ]
    # toll-free and the fictional 555-01xx are ordinary numbers
    assert [lead.to_number for lead in leads] == ["+18005550103", "+14155550199"]
    leads, scan = scan_leads(tmp_path, rows, "allow_premium_numbers: true\n")
    assert problems(scan) == [] and len(leads) == 6


def test_a_list_with_no_leads_is_refused_unless_the_file_says_it_is_meant(tmp_path: Path) -> None:
    _, scan = scan_leads(tmp_path, "to_number,first_name\n\n")
    assert problems(scan) == [
        "1: leads: the list has no leads; add some, or set allow_empty: true in the campaign "
        "file if that is meant"
    ]
    leads, scan = scan_leads(tmp_path, "to_number,first_name\n", "allow_empty: true\n")
    assert (leads, problems(scan)) == ([], [])
    # an inline list: the problem stands at the campaign file's `leads:` line
    (tmp_path / "c.yaml").write_text(CAMPAIGN.replace("leads: leads.csv", "leads: []"))
    scan = LeadScan()
    assert list(iter_leads(read_campaign_file(tmp_path / "c.yaml"), scan)) == []
    assert [(p.file.name, p.line, p.field) for p in scan.problems] == [("c.yaml", 3, "leads")]


def test_a_list_whose_rows_are_all_bad_reports_the_rows_only(tmp_path: Path) -> None:
    _, scan = scan_leads(tmp_path, "to_number\nnope\n")
    assert [p.field for p in scan.problems] == ["to_number"]


def test_control_characters_are_refused_but_tabs_and_line_breaks_in_a_cell_are_fine(
    tmp_path: Path,
) -> None:
    rows = b'to_number,note\n+14155550101,"two\r\nlines\tand a tab"\n+14155550102,x\x7fy\n'
    leads, scan = scan_leads(tmp_path, rows)
    assert problems(scan) == ["4: note: control character U+007F (DEL) is not allowed; remove it"]
    assert leads[0].dynamic_variables == {"note": "two\r\nlines\tand a tab"}
    _, scan = scan_leads(tmp_path, b"to_number,na\x00me\n+14155550101,x\n")
    assert problems(scan) == [
        "1: column 2: control character U+0000 (NUL) is not allowed; remove it"
    ]


def test_a_file_without_line_breaks_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    _, scan = scan_leads(tmp_path, "to_number," + "x" * (3 << 20))
    assert [(p.line, p.message) for p in scan.problems] == [
        (1, "a line longer than 1,048,576 characters: is this a CSV lead list?")
    ]
    _, scan = scan_leads(tmp_path, "to_number,note\n+14155550101," + "x" * 200_000 + "\n")
    assert [(p.line, p.message) for p in scan.problems] == [
        (2, "malformed CSV: field larger than field limit (131072)")
    ]


def test_a_timezone_column_is_read_whatever_its_case_and_a_typo_gets_a_guess(
    tmp_path: Path,
) -> None:
    (tmp_path / "leads.csv").write_text(
        "to_number,timezone\n+12125550101,america/new_york\n+12125550102,America/New_Yrok\n"
    )
    (tmp_path / "c.yaml").write_text(
        'name: z\nfrom_number: "+14155550100"\nleads: leads.csv\nstate_rules: false\n'
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    problems = [line for line in result.output.splitlines() if "timezone" in line]
    assert problems == [
        f"{tmp_path / 'leads.csv'}:3: timezone: unknown time zone 'America/New_Yrok' "
        "(did you mean America/New_York?)"
    ]
