"""Loading the lists that used to trip the store or pass unnoticed, on SQLite and Postgres: a
NUL byte (Postgres refuses it in text: the load died with a traceback), a list with no leads,
a `state` column holding a province, a semicolon-separated export."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.inputs.campaign_file import read_campaign_file
from dialer.inputs.problems import InputError
from dialer.operations.loading import import_campaign
from dialer.store import Store

from ..helpers import lead_rows

pytestmark = pytest.mark.anyio

CAMPAIGN = 'name: traps\nfrom_number: "+14155550100"\nleads: {leads}\n'


def write(tmp_path: Path, leads_name: str, leads: bytes | str, extra: str = "") -> Path:
    (tmp_path / "campaign.yaml").write_text(CAMPAIGN.format(leads=leads_name) + extra)
    data = leads.encode() if isinstance(leads, str) else leads
    (tmp_path / leads_name).write_bytes(data)
    return tmp_path / "campaign.yaml"


@pytest.mark.parametrize(
    ("leads_name", "leads", "field"),
    [
        (
            "leads.csv",
            b"to_number,first_name\n+14155550101,Ann\n+14155550102,B\x00b\n",
            "first_name",
        ),
        (
            "leads.yaml",
            '- to_number: "+14155550101"\n'
            '- to_number: "+14155550102"\n'
            '  retell_llm_dynamic_variables: {first_name: "B\\0b"}\n',
            "retell_llm_dynamic_variables.first_name",
        ),
    ],
)
async def test_a_nul_byte_is_an_input_problem_and_nothing_is_stored(
    store: Store, tmp_path: Path, leads_name: str, leads: bytes | str, field: str
) -> None:
    path = write(tmp_path, leads_name, leads)
    with pytest.raises(InputError) as caught:
        await import_campaign(store, read_campaign_file(path))
    (problem,) = caught.value.problems
    assert (problem.file.name, problem.line, problem.field) == (leads_name, 3, field)
    assert "U+0000 (NUL)" in problem.message
    assert await lead_rows(store) == []
    assert await store.source_digest("traps") is None  # the campaign was not stored either


async def test_a_list_with_no_leads_loads_only_when_the_file_says_it_is_meant(
    store: Store, tmp_path: Path
) -> None:
    path = write(tmp_path, "leads.csv", "to_number,first_name\n")
    with pytest.raises(InputError, match="the list has no leads"):
        await import_campaign(store, read_campaign_file(path))
    assert await store.source_digest("traps") is None
    path = write(tmp_path, "leads.csv", "to_number,first_name\n", "allow_empty: true\n")
    result = await import_campaign(store, read_campaign_file(path))
    assert (result.leads_in_file, result.added) == (0, 0)
    assert await store.source_digest("traps") is not None


async def test_with_state_rules_off_a_province_in_the_state_column_is_a_plain_variable(
    store: Store, tmp_path: Path
) -> None:
    leads = "to_number,state\n+14165550101,ON\n+14155550102,CA\n"
    path = write(tmp_path, "leads.csv", leads)
    with pytest.raises(InputError, match="'ON' is not a US state"):
        await import_campaign(store, read_campaign_file(path))
    path = write(tmp_path, "leads.csv", leads, "state_rules: false\n")
    await import_campaign(store, read_campaign_file(path))
    rows = await lead_rows(store)
    assert [(r["states"], r["dynamic_variables"]) for r in rows] == [
        ("", {"state": "ON"}),
        ("CA", {"state": "CA"}),  # its area code's state
    ]


async def test_a_semicolon_separated_export_loads(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", "phone;first_name\n+14155550101;Ann\n")
    result = await import_campaign(store, read_campaign_file(path))
    assert result.added == 1
    (row,) = await lead_rows(store)
    assert (row["to_number"], row["dynamic_variables"]) == ("+14155550101", {"first_name": "Ann"})


async def test_a_premium_number_loads_when_the_file_allows_it(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", "to_number\n+19005550101\n")
    with pytest.raises(InputError, match="premium-rate"):
        await import_campaign(store, read_campaign_file(path))
    path = write(
        tmp_path, "leads.csv", "to_number\n+19005550101\n", "allow_premium_numbers: true\n"
    )
    assert (await import_campaign(store, read_campaign_file(path))).added == 1


def test_settings_stored_by_an_older_version_are_read_even_with_names_now_refused() -> None:
    """A worker must still read a campaign loaded before a name was refused (no store needed:
    the row as the store hands it over)."""
    from dialer.domain.states import CampaignStatus
    from dialer.store.records import CampaignRow

    config = {"name": "old", "from_number": "+14155550100", "retry": {"retry_on": ["no_answer"]}}
    row = CampaignRow(1, "old", CampaignStatus.ACTIVE, None, config)
    assert row.settings().retry.retry_on == ["no_answer"]
