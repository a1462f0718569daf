"""State calling rules end to end, on both stores, with a pinned clock: a Florida number is not
dialed at 20:30 local on a weekday while a Georgia number in the same zone is; an Alabama number
is not dialed on a Sunday; Florida's cap of three calls in 24 hours holds across two campaigns;
`dialer validate` says which rules are in force and who cannot be called now."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dialer.cli import main
from dialer.dialing.clock import Clock
from dialer.dialing.options import RunOutcome
from dialer.reporting.status import read_status
from dialer.simulator import OutcomeRule, SimulatedRetell
from dialer.store import Store
from dialer.store.schema import attempts

from ..helpers import fast_options, lead_rows, run_in_process, running, write_campaign

pytestmark = pytest.mark.anyio

FLORIDA = "+13052000001"  # Miami: Eastern time
GEORGIA = "+14042000001"  # Atlanta: Eastern time
ALABAMA = "+12052000001"  # Birmingham: Central time
WEEKDAY_2030_EASTERN = "2027-03-03T01:30:00Z"  # Tuesday 2027-03-02 20:30 in Miami and Atlanta
SUNDAY_NOON_CENTRAL = "2027-03-07T18:00:00Z"  # 12:00 in Birmingham, 13:00 in Atlanta


async def _run_until_dialed(
    store: Store, path: Path, engine: SimulatedRetell, clock: str, expected: set[str]
) -> set[str]:
    """Run the campaign with the clock pinned until `expected` were called (and their calls
    ended) and the runner's
    calling gate has judged the others closed, then stop it; return the numbers the simulator
    saw. Every lead is due from the start, so the claims that dialed `expected` looked at the
    others too: no wait is needed for a wrong dial to show up."""
    async with running(store, engine, path, fast_options(clock=Clock.from_iso(clock))) as runner:
        with anyio.fail_after(30):
            while not expected <= {
                r["to_number"] for r in await lead_rows(store) if r["state"] == "completed"
            }:
                await anyio.sleep(0.05)
            while runner.stats.waiting_for_window < 1:  # the gate held someone
                await anyio.sleep(0.05)
        views = await read_status(store, runner.row.name, Clock.from_iso(clock).now())
    assert views[0].as_json()["waiting_for_window"] >= 1
    return {c["to_number"] for c in engine.records()["calls"]}


@pytest.mark.parametrize(
    ("clock", "dialed", "held", "reason"),
    [
        (WEEKDAY_2030_EASTERN, GEORGIA, FLORIDA, "state_hours:FL"),
        (SUNDAY_NOON_CENTRAL, GEORGIA, ALABAMA, "state_hours:AL"),
    ],
)
async def test_a_state_window_holds_one_lead_while_its_neighbour_is_dialed(
    store: Store, tmp_path: Path, clock: str, dialed: str, held: str, reason: str
) -> None:
    engine = SimulatedRetell(speed=200, seed=8, rules=[OutcomeRule(["user_hangup"], suffix="")])
    path = write_campaign(tmp_path, [held, dialed], name="states")
    assert await _run_until_dialed(store, path, engine, clock, {dialed}) == {dialed}
    rows = {r["to_number"]: r for r in await lead_rows(store)}
    assert rows[held]["state"] == "pending" and rows[held]["attempts"] == 0
    assert rows[dialed]["state"] == "completed"
    views = await read_status(store, "states", Clock.from_iso(clock).now())
    assert views[0].as_json()["waiting_by_reason"] == {reason: 1}


async def test_state_rules_can_be_turned_off(store: Store, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=200, seed=9, rules=[OutcomeRule(["user_hangup"], suffix="")])
    path = write_campaign(tmp_path, [FLORIDA, GEORGIA], name="off", extra={"state_rules": False})
    clock = Clock.from_iso(WEEKDAY_2030_EASTERN)
    result = await run_in_process(store, engine, path, fast_options(clock=clock))
    assert result.outcome is RunOutcome.FINISHED
    assert {c["to_number"] for c in engine.records()["calls"]} == {FLORIDA, GEORGIA}


async def test_floridas_cap_of_three_a_day_holds_across_two_campaigns(
    store: Store, tmp_path: Path
) -> None:
    # Tuesday 10:00 in Miami: inside Florida's window
    clock = Clock.from_iso("2027-03-02T15:00:00Z")
    engine = SimulatedRetell(
        speed=200, seed=10, rules=[OutcomeRule(["dial_no_answer"], number=FLORIDA)]
    )
    first = write_campaign(tmp_path, [FLORIDA], name="first", max_attempts=3, backoff="100ms")
    result = await run_in_process(store, engine, first, fast_options(clock=clock))
    assert result.outcome is RunOutcome.FINISHED
    assert len(engine.records()["calls"]) == 3
    async with store.engine.connect() as conn:
        first_call_at = await conn.scalar(select(func.min(attempts.c.created_at)))

    second = write_campaign(tmp_path, [FLORIDA], name="second")
    async with running(store, engine, second, fast_options(clock=clock)) as runner:
        campaign_id = runner.row.id
        with anyio.fail_after(30):
            while True:
                lead = next(r for r in await lead_rows(store) if r["campaign_id"] == campaign_id)
                if lead["wait_reason"] is not None:
                    break
                await anyio.sleep(0.05)
    assert len(engine.records()["calls"]) == 3  # the fourth was not placed
    assert lead["wait_reason"] == "state_cap:FL" and lead["attempts"] == 0
    due = lead["next_attempt_at"]
    assert isinstance(due, datetime)
    assert abs((due - (first_call_at + timedelta(days=1))).total_seconds()) < 1


def test_validate_names_the_rules_in_force_and_who_cannot_be_called_now(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(
        f"to_number,state,first_name\n{FLORIDA},,Ann\n{GEORGIA},,Bo\n{GEORGIA[:-1]}2,FL,Cy\n"
        f"{ALABAMA},Alabama,Di\n"
    )
    (tmp_path / "c.yaml").write_text(
        'name: v\nfrom_number: "+14155550100"\nleads: leads.csv\n'
        'state_rules: {FL: {end: "19:00"}}\nskip_dates: [2027-12-24]\n'
    )
    result = CliRunner().invoke(
        main,
        ["validate", str(tmp_path / "c.yaml")],
        env={"DIALER_CLOCK_START": WEEKDAY_2030_EASTERN},
    )
    assert result.exit_code == 0, result.output
    assert "state rules: 22 states" in result.output
    assert "overridden by the campaign: FL" in result.output
    # Ann (a Miami number) and Cy (a Georgia number, a Florida address) wait for Florida
    assert "2 lead(s) cannot be called now (state_hours:FL)" in result.output
    assert "the first may be called at 2027-03-03 13:00 UTC" in result.output
    assert "Bo" not in result.output


def test_validate_names_a_bad_state_and_a_bad_override(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(f"to_number,state\n{FLORIDA},Floridaa\n")
    (tmp_path / "c.yaml").write_text(
        'name: v\nfrom_number: "+14155550100"\nleads: leads.csv\n'
        'state_rules: {FL: {weekdays: "8-20"}}\n'
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "'8-20' is not a window like 08:00-20:00" in result.output
    (tmp_path / "c.yaml").write_text(
        'name: v\nfrom_number: "+14155550100"\nleads: leads.csv\nstate_rules: {XX: {}}\n'
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "'XX' is not a US state code" in result.output
    (tmp_path / "c.yaml").write_text('name: v\nfrom_number: "+14155550100"\nleads: leads.csv\n')
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "leads.csv:2: state: 'Floridaa' is not a US state" in result.output
