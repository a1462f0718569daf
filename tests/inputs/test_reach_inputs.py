"""Reach inputs: a from-number pool read from a file, alternate numbers in lead lists, each bad
value named with its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.inputs.campaign_file import read_campaign_file
from dialer.inputs.leads import LeadScan, iter_leads
from dialer.inputs.problems import InputError

CAMPAIGN = "name: reach\nleads: leads.csv\nfrom_numbers: pool.txt\n"


def test_a_pool_file_is_read_one_number_a_line(tmp_path: Path) -> None:
    (tmp_path / "pool.txt").write_text("# our lines\n+1 305 555 0101\n\n+14045550101  # Atlanta\n")
    (tmp_path / "c.yaml").write_text(CAMPAIGN)
    campaign = read_campaign_file(tmp_path / "c.yaml").campaign
    assert campaign.caller_ids == ("+13055550101", "+14045550101")
    assert campaign.from_number is None


def test_a_bad_pool_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "pool.txt").write_text("+13055550101\nnot a number\n")
    (tmp_path / "c.yaml").write_text(CAMPAIGN)
    with pytest.raises(InputError) as caught:
        read_campaign_file(tmp_path / "c.yaml")
    (problem,) = caught.value.problems
    assert (problem.file.name, problem.line, problem.field) == ("pool.txt", 2, "number")
    (tmp_path / "c.yaml").write_text(CAMPAIGN.replace("pool.txt", "gone.txt"))
    with pytest.raises(InputError, match="file not found"):
        read_campaign_file(tmp_path / "c.yaml")


def test_a_number_listed_twice_in_the_pool_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        'name: reach\nleads: leads.csv\nfrom_numbers: ["+13055550101", "+1 305 555 0101"]\n'
    )
    with pytest.raises(InputError) as caught:
        read_campaign_file(tmp_path / "c.yaml")
    assert "listed twice" in str(caught.value.problems[0])


def _scan(tmp_path: Path, rows: str) -> tuple[list[object], LeadScan]:
    (tmp_path / "c.yaml").write_text(
        'name: reach\nleads: leads.csv\nfrom_number: "+14155550100"\ndefault_region: US\n'
    )
    (tmp_path / "leads.csv").write_text(rows)
    scan = LeadScan()
    leads = list(iter_leads(read_campaign_file(tmp_path / "c.yaml"), scan))
    return leads, scan


def test_alternate_numbers_are_normalized_with_their_own_zones_and_states(tmp_path: Path) -> None:
    leads, scan = _scan(
        tmp_path,
        "to_number,alt_number_2,alt_number_1,name\n+12125550101,+13055550101,(206) 555-0101,Ann\n",
    )
    assert not scan.problems
    (lead,) = leads
    alternates = lead.alternates  # type: ignore[attr-defined]
    assert [a.to_number for a in alternates] == ["+12065550101", "+13055550101"]  # by index
    assert [a.states for a in alternates] == ["WA", "FL"]
    assert alternates[0].zones == "America/Los_Angeles"
    assert lead.dynamic_variables == {"name": "Ann"}  # type: ignore[attr-defined]


def test_a_bad_or_repeated_alternate_is_named(tmp_path: Path) -> None:
    _, scan = _scan(
        tmp_path,
        "to_number,alt_number_1\n+12125550101,12\n+12125550102,+12125550103\n"
        "+12125550104,+12125550103\n+12125550103,\n",
    )
    found = {(p.line, p.field) for p in scan.problems}
    assert found == {(2, "alt_number_1"), (4, "alt_number_1"), (5, "to_number")}
    assert "duplicate number +12125550103" in str(scan.problems[1])
