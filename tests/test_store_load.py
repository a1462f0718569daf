"""Loading campaigns into the store, on SQLite and Postgres."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.campaign import load_campaign
from dialer.load import load_campaign_into_store
from dialer.problems import InputError
from dialer.store import Store
from dialer.store.schema import leads

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


async def _lead_rows(store: Store) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(select(leads).order_by(leads.c.id))
        return [dict(r._mapping) for r in result]


async def test_loading_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "+14155550102,Bob,"])
    first = await load_campaign_into_store(store, load_campaign(path))
    second = await load_campaign_into_store(store, load_campaign(path))
    assert (first.added, second.added) == (2, 0)
    rows = await _lead_rows(store)
    assert len(rows) == 2
    # campaign defaults merge under the lead's own values; empty CSV cells are the lead's own
    assert rows[0]["dynamic_variables"] == {"company": "Acme", "plan": "Gold", "first_name": "Ann"}
    assert rows[0]["call_metadata"] == {"source": "mailer"}
    assert rows[0]["next_attempt_at"].tzinfo is not None


async def test_edited_list_adds_new_rows_and_keeps_history(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "+14155550102,Bob,Silver"])
    await load_campaign_into_store(store, load_campaign(path))
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
    result = await load_campaign_into_store(store, load_campaign(path))
    assert result.added == 1
    rows = {r["to_number"]: r for r in await _lead_rows(store)}
    assert rows["+14155550101"]["dynamic_variables"]["plan"] == "Gold"  # history: untouched
    assert rows["+14155550101"]["state"] == "completed"
    assert rows["+14155550102"]["dynamic_variables"]["plan"] == "Bronze"  # never dialed: refreshed
    assert rows["+14155550103"]["state"] == "pending"


async def test_bad_row_loads_nothing(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, ["+14155550101,Ann,Gold", "garbage,Bob,Gold"])
    with pytest.raises(InputError) as caught:
        await load_campaign_into_store(store, load_campaign(path))
    assert "leads.csv:3: to_number" in str(caught.value)
    assert await _lead_rows(store) == []
    assert await store.campaign_id("spring") is None


async def test_large_list_loads_in_batches(store: Store, tmp_path: Path) -> None:
    rows = [f"+1212{2_000_000 + i:07d},N{i}," for i in range(12_000)]
    path = _write(tmp_path, rows)
    result = await load_campaign_into_store(store, load_campaign(path))
    assert result.added == 12_000
    assert result.leads_in_file == 12_000
