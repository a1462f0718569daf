"""Loading campaigns into the store, on SQLite and Postgres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dialer.inputs.campaign_file import read_campaign_file
from dialer.inputs.problems import InputError
from dialer.operations.loading import import_campaign
from dialer.store import Store
from dialer.store.schema import leads

from ..helpers import lead_rows

pytestmark = pytest.mark.anyio

CAMPAIGN = """\
name: spring
from_number: "+14155550100"
leads: leads.csv
dynamic_variables: {company: Acme, plan: Basic}
metadata: {source: mailer}
"""


def _write(tmp_path: Path, rows: list[str]) -> Path:
    (tmp_path / "campaign.yaml").write_text(CAMPAIGN)
    (tmp_path / "leads.csv").write_text(
        "to_number,first_name,plan\n" + "".join(r + "\n" for r in rows)
    )
    return tmp_path / "campaign.yaml"


async def test_loading_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "+14155550102,Bob,"])
    first = await import_campaign(store, read_campaign_file(path))
    second = await import_campaign(store, read_campaign_file(path))
    assert (first.added, second.added) == (2, 0)
    rows = await lead_rows(store)
    assert len(rows) == 2
    # campaign defaults merge under the lead's own values; empty CSV cells are the lead's own
    assert rows[0]["dynamic_variables"] == {"company": "Acme", "plan": "Gold", "first_name": "Ann"}
    assert rows[0]["call_metadata"] == {"source": "mailer"}
    assert rows[0]["next_attempt_at"].tzinfo is not None


async def test_unchanged_files_are_not_read_again(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun of `dialer run` on files as they were last loaded starts dialing at once: their
    digest matches, and not a row is read or written; any change to a file reads them all."""
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "+14155550102,Bob,"])
    first = await import_campaign(store, read_campaign_file(path))
    assert not first.unchanged

    def no_reading(*_args: Any) -> Any:
        raise AssertionError("the unchanged lead list was read again")

    with monkeypatch.context() as patched:
        patched.setattr("dialer.operations.loading.iter_leads", no_reading)
        again = await import_campaign(store, read_campaign_file(path))
    assert (again.unchanged, again.added, again.leads_in_file) == (True, 0, 2)
    edited = _write(tmp_path, ["+14155550101,Ann,Gold", "+14155550102,Bob,", "+14155550103,Cy,"])
    third = await import_campaign(store, read_campaign_file(edited))
    assert (third.unchanged, third.added) == (False, 1)


async def test_edited_list_adds_new_rows_and_keeps_history(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "+14155550102,Bob,Silver"])
    await import_campaign(store, read_campaign_file(path))
    # the first lead has history now
    async with store.transaction() as conn:
        await conn.execute(
            leads.update()
            .where(leads.c.to_number == "+14155550101")
            .values(state="completed", attempts=1)
        )
    path = _write(
        tmp_path, ["+14155550101,Ann,Platinum", "+14155550102,Bob,Bronze", "+14155550103,Cy,Gold"]
    )
    result = await import_campaign(store, read_campaign_file(path))
    assert result.added == 1
    rows = {r["to_number"]: r for r in await lead_rows(store)}
    assert rows["+14155550101"]["dynamic_variables"]["plan"] == "Gold"  # history: untouched
    assert rows["+14155550101"]["state"] == "completed"
    assert rows["+14155550102"]["dynamic_variables"]["plan"] == "Bronze"  # never dialed: refreshed
    assert rows["+14155550103"]["state"] == "pending"


async def test_bad_row_loads_nothing(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "garbage,Bob,Gold"])
    with pytest.raises(InputError) as caught:
        await import_campaign(store, read_campaign_file(path))
    assert "leads.csv:3: to_number" in str(caught.value)
    assert await lead_rows(store) == []
    assert await store.campaign_id("spring") is None


async def test_large_list_loads_in_batches(store: Store, tmp_path: Path) -> None:
    rows = [f"+1212{2_000_000 + i:07d},N{i}," for i in range(12_000)]
    path = _write(tmp_path, rows)
    result = await import_campaign(store, read_campaign_file(path))
    assert result.added == 12_000
    assert result.leads_in_file == 12_000


async def test_bad_row_after_many_batches_loads_nothing(store: Store, tmp_path: Path) -> None:
    """Batches already written when the problem shows up are rolled back with the rest (on
    Postgres they were written while the file was still being read)."""
    rows = [f"+1212{2_000_000 + i:07d},N{i}," for i in range(12_000)]
    rows[11_000] = "+1212000,Bad,"
    path = _write(tmp_path, rows)
    with pytest.raises(InputError) as caught:
        await import_campaign(store, read_campaign_file(path))
    assert "leads.csv:11002: to_number" in str(caught.value)
    assert await lead_rows(store) == []
    assert await store.campaign_id("spring") is None


async def test_reloading_a_large_edited_list(store: Store, tmp_path: Path) -> None:
    rows = [f"+1212{2_000_000 + i:07d},N{i},Gold" for i in range(12_000)]
    await import_campaign(store, read_campaign_file(_write(tmp_path, rows)))
    async with store.transaction() as conn:  # one lead has history now
        await conn.execute(
            leads.update().where(leads.c.to_number == "+12122000001").values(attempts=1)
        )
    rows[0] = "+12122000000,N0,Platinum"
    rows[1] = "+12122000001,N1,Platinum"
    rows.append("+12123000000,New,Gold")
    result = await import_campaign(store, read_campaign_file(_write(tmp_path, rows)))
    assert (result.added, result.leads_in_file) == (1, 12_001)
    found = {r["to_number"]: r for r in await lead_rows(store)}
    assert found["+12122000000"]["dynamic_variables"]["plan"] == "Platinum"  # refreshed
    # has history and still waits: the edit takes effect at its next call
    assert found["+12122000001"]["dynamic_variables"]["plan"] == "Platinum"
    assert found["+12122000002"]["updated_at"] == found["+12122000002"]["created_at"]  # same


async def test_a_failing_write_fails_the_load_with_its_own_error(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refusing a batch midway (here: made to) surfaces as that error, and
    nothing stays."""
    real_insert = Store.insert_leads
    calls = 0

    async def failing_insert(self: Store, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database refused the batch")
        await real_insert(self, *args, **kwargs)

    monkeypatch.setattr(Store, "insert_leads", failing_insert)
    path = _write(tmp_path, [f"+1212{2_000_000 + i:07d},N{i}," for i in range(12_000)])
    with pytest.raises(RuntimeError, match="refused the batch"):
        await import_campaign(store, read_campaign_file(path))
    monkeypatch.undo()
    assert await lead_rows(store) == []


async def test_a_load_remembers_every_place_its_leads_are_in(store: Store, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        'name: places\nfrom_number: "+14155550100"\nleads: leads.csv\n'
    )
    (tmp_path / "leads.csv").write_text(
        "to_number,alt_number_1,state\n+12125550101,+13055550101,\n+12125550102,,GA\n"
    )
    loaded = await import_campaign(store, read_campaign_file(tmp_path / "c.yaml"))
    ny = "America/New_York"  # Miami's zone too
    places = {tuple(p) for p in await store.known_places(loaded.campaign_id) or []}
    assert places == {(ny, "NY"), (ny, "FL"), (ny, "GA|NY")}  # the alternate's too
    # a reload with more leads keeps what was known
    (tmp_path / "leads.csv").write_text("to_number,state\n+12065550101,\n")
    await import_campaign(store, read_campaign_file(tmp_path / "c.yaml"))
    again = {tuple(p) for p in await store.known_places(loaded.campaign_id) or []}
    assert again == places | {("America/Los_Angeles", "WA")}
