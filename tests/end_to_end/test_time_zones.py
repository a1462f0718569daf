"""A `timezone` column that disagrees with the number narrows the calling window, in both
directions, on both stores, with a pinned clock: the lead is held while a lead whose zones all
agree is dialed in the same claim."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
import yaml

from dialer.dialing.clock import Clock
from dialer.simulator import OutcomeRule, SimulatedRetell
from dialer.store import Store

from ..helpers import fast_options, lead_rows, running

pytestmark = pytest.mark.anyio

NEW_YORK, LOS_ANGELES = "+12122000001", "+13102000001"
NY, LA = "America/New_York", "America/Los_Angeles"


def _campaign(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    (tmp_path / "leads.csv").write_text(
        "to_number,timezone\n" + "".join(f"{n},{z}\n" for n, z in rows)
    )
    path = tmp_path / "zones.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "zones",
                "from_number": "+14155550100",
                "leads": "leads.csv",
                "state_rules": False,
                "pacing": {"calls_per_second": 50, "max_concurrent_calls": 5},
                "calling_hours": {"start": "09:00", "end": "20:00"},
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("clock", "held", "dialed"),
    [
        # 21:30 in New York, 18:30 in Los Angeles: a New York number whose row says LA is held;
        # an LA number whose row says LA is dialed
        ("2027-03-03T02:30:00Z", (NEW_YORK, LA), (LOS_ANGELES, LA)),
        # 08:30 in Los Angeles, 11:30 in New York: an LA number whose row says New York is
        # held; a New York number whose row says New York is dialed
        ("2027-03-02T16:30:00Z", (LOS_ANGELES, NY), (NEW_YORK, NY)),
    ],
)
async def test_a_timezone_column_that_disagrees_with_the_number_narrows_the_window(
    store: Store,
    tmp_path: Path,
    clock: str,
    held: tuple[str, str],
    dialed: tuple[str, str],
) -> None:
    engine = SimulatedRetell(speed=200, seed=3, rules=[OutcomeRule(["user_hangup"], suffix="")])
    path = _campaign(tmp_path, [held, dialed])
    options = fast_options(clock=Clock.from_iso(clock))
    async with running(store, engine, path, options):
        with anyio.fail_after(30):
            while dialed[0] not in {c.to_number for c in engine.calls.values()}:
                await anyio.sleep(0.05)
    # the claim that dialed the agreeing lead looked at both: the other one waits
    assert {c.to_number for c in engine.calls.values()} == {dialed[0]}
    rows = {r["to_number"]: r for r in await lead_rows(store)}
    assert rows[held[0]]["state"] == "pending" and rows[held[0]]["attempts"] == 0
    assert set(rows[held[0]]["zones"].split("|")) == {NY, LA}
