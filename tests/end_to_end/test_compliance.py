"""Compliance end to end: calling hours in the callee's time, do-not-call lists, daily limits.

The clock is pinned with DIALER_CLOCK_START (the process's wall clock starts at that instant),
so "Tuesday 14:30 UTC" holds whatever day the tests run on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dialer.cli import main
from dialer.dialing.clock import Clock
from dialer.dialing.options import RunOutcome
from dialer.dialing.runner import CampaignRunner
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.retell import RetellClient
from dialer.retell.settings import ApiKey
from dialer.simulator import OutcomeRule, SimulatedRetell, SimulatorServer, run_simulator_in_thread
from dialer.store import Store, open_store
from dialer.store.schema import leads

from ..helpers import check_invariants, fast_options, run_in_process, write_campaign

pytestmark = pytest.mark.anyio

TUESDAY_1430_UTC = "2026-11-24T14:30:00Z"  # 09:30 New York, 06:30 Los Angeles, 04:30 Honolulu
TUESDAY_1930_UTC = "2026-11-24T19:30:00Z"  # 14:30 New York, 11:30 Los Angeles, 09:30 Honolulu
NEW_YORK = [f"+1212200{i:04d}" for i in range(5)]
LOS_ANGELES = [f"+1213200{i:04d}" for i in range(5)]
HONOLULU = [f"+1808200{i:04d}" for i in range(3)]
ON_DNC_FILE = NEW_YORK[3]
HOURS = {"calling_hours": {"start": "09:00", "end": "20:00"}, "suppress": ["dnc.txt"]}


def _start(path: Path, url: str, base_url: str, log: Path, clock: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RETELL_BASE_URL": base_url,
        "RETELL_API_KEY": "sim-key",
        "DIALER_CLOCK_START": clock,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", str(path), "--no-progress", "--log-format", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _status(url: str, clock: str) -> dict[str, object]:
    env = {**os.environ, "DATABASE_URL": url, "DIALER_CLOCK_START": clock}
    done = subprocess.run(
        [sys.executable, "-m", "dialer", "status", "hours", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout)
    return found


async def _lead_rows(url: str) -> dict[str, dict[str, object]]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            return {r.to_number: dict(r._mapping) for r in await conn.execute(select(leads))}
    finally:
        await store.close()


@pytest.mark.slow
async def test_calling_hours_in_the_callees_time_dnc_file_sigterm_and_resume(
    store_url: str, tmp_path: Path
) -> None:
    (tmp_path / "dnc.txt").write_text(
        "# numbers that asked us never to call\n\n(212) 200-0003  # by phone, 2026-10-02\n"
    )
    path = write_campaign(
        tmp_path, NEW_YORK + LOS_ANGELES + HONOLULU, name="hours", cps=20, cap=5, extra=HOURS
    )
    engine = SimulatedRetell(speed=100, seed=5, rules=[OutcomeRule(["user_hangup"], suffix="")])
    log = tmp_path / "runs.log"
    dialable_ny = set(NEW_YORK) - {ON_DNC_FILE}
    with run_simulator_in_thread(engine) as server:
        first = _start(path, store_url, server.url, log, TUESDAY_1430_UTC)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            now = time.monotonic()
            calls = engine.records()["calls"]
            ended = {c["to_number"] for c in calls if c["terminal_at"] <= now}
            if dialable_ny <= ended:
                break
            await anyio.sleep(0.2)
        # every lead was due from the start, so the claims that dialed New York judged the
        # west too: it is held, not merely not yet dialed
        assert first.poll() is None, log.read_text()[-3000:]  # it waits for the west's windows
        dialed = {c["to_number"] for c in engine.records()["calls"]}
        assert dialed == dialable_ny
        status = _status(store_url, TUESDAY_1430_UTC)
        assert status["waiting_for_window"] == len(LOS_ANGELES) + len(HONOLULU)
        assert status["next_window_opens_at"] == "2026-11-24T17:00:00+00:00"
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 143, log.read_text()[-3000:]

        second = _start(path, store_url, server.url, log, TUESDAY_1930_UTC)
        assert second.wait(90) == 0, log.read_text()[-3000:]
        records = engine.records()
    counts = check_invariants(records, max_attempts=1, cap=5, cps=20)
    assert set(counts) == set(NEW_YORK + LOS_ANGELES + HONOLULU) - {ON_DNC_FILE}
    rows = await _lead_rows(store_url)
    assert rows[ON_DNC_FILE]["state"] == "skipped"
    assert rows[ON_DNC_FILE]["skip_reason"] == "suppressed by dnc.txt"
    assert rows[ON_DNC_FILE]["attempts"] == 0
    assert {r["state"] for n, r in rows.items() if n != ON_DNC_FILE} == {"completed"}


async def test_a_dnc_request_is_honored_by_every_campaign(store: Store, tmp_path: Path) -> None:
    asked, other = "+12122000101", "+12122000102"
    engine = SimulatedRetell(
        speed=200,
        seed=3,
        rules=[
            OutcomeRule(["user_requested_dnc"], number=asked),
            OutcomeRule(["user_hangup"], number=other),
        ],
    )
    first = write_campaign(tmp_path, [asked], name="first")
    assert (await run_in_process(store, engine, first)).outcome is RunOutcome.FINISHED
    second = write_campaign(tmp_path, [asked, other], name="second")
    assert (await run_in_process(store, engine, second)).outcome is RunOutcome.FINISHED
    counts = check_invariants(engine.records(), max_attempts=1)
    assert counts == {asked: 1, other: 1}
    second_id = await store.campaign_id("second")
    async with store.engine.connect() as conn:
        second_rows = {
            r.to_number: r
            for r in await conn.execute(
                select(leads.c.to_number, leads.c.state, leads.c.skip_reason).where(
                    leads.c.campaign_id == second_id
                )
            )
        }
    assert second_rows[asked].state == "skipped"
    assert second_rows[asked].skip_reason == "do-not-call list"


async def test_max_attempts_per_number_per_day_holds_across_campaigns(
    store: Store, tmp_path: Path
) -> None:
    shared, fresh = "+12122000201", "+12122000202"
    engine = SimulatedRetell(speed=200, seed=4, rules=[OutcomeRule(["user_hangup"], suffix="")])
    first = write_campaign(tmp_path, [shared], name="first")
    assert (await run_in_process(store, engine, first)).outcome is RunOutcome.FINISHED
    second = write_campaign(
        tmp_path, [shared, fresh], name="second", extra={"max_attempts_per_number_per_day": 1}
    )
    loaded = read_campaign_file(second)
    campaign_id = (await import_campaign(store, loaded)).campaign_id
    row = await store.campaign(campaign_id)
    assert row is not None
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
        anyio.create_task_group() as group,
    ):
        runner = CampaignRunner(store, client, row, fast_options())
        outcome: list[RunOutcome] = []

        async def run() -> None:
            outcome.append((await runner.run()).outcome)

        group.start_soon(run)
        with anyio.fail_after(30):
            while True:
                async with store.engine.connect() as conn:
                    rows = {
                        r.to_number: r
                        for r in await conn.execute(
                            select(leads).where(leads.c.campaign_id == campaign_id)
                        )
                    }
                if rows[fresh].state == "completed" and rows[shared].next_attempt_at > (
                    datetime.now(UTC) + timedelta(hours=23)
                ):
                    break
                await anyio.sleep(0.1)
        runner.stop()
    assert outcome == [RunOutcome.STOPPED]
    assert rows[shared].state == "pending" and rows[shared].attempts == 0
    assert [c["to_number"] for c in engine.records()["calls"]] == [shared, fresh]


def test_validate_reports_leads_that_can_never_be_called_and_suppressed_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "dnc.txt").write_text("+1 212-200-0001\n")
    (tmp_path / "leads.csv").write_text(
        "to_number,first_name\n+12122000001,Ann\n+80012345678,Bo\n+12132000001,Cy\n"
    )
    (tmp_path / "c.yaml").write_text(
        'name: v\nfrom_number: "+14155550100"\nleads: leads.csv\nsuppress: [dnc.txt]\n'
        'calling_hours: {start: "09:00", end: "20:00"}\n'
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    assert "leads.csv:3: warning: 1 lead(s) like this one can never be called" in result.output
    assert "no time zone known" in result.output
    assert "1 lead(s) are on the campaign's suppression files" in result.output


def test_a_bad_suppression_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "dnc.txt").write_text("# list\n+12122000001\nnot a number\n")
    (tmp_path / "leads.csv").write_text("to_number\n+12122000001\n")
    (tmp_path / "c.yaml").write_text(
        'name: v\nfrom_number: "+14155550100"\nleads: leads.csv\nsuppress: [dnc.txt, gone.txt]\n'
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'dnc.txt'}:3: number:" in result.output
    assert "suppress.1: file not found" in result.output


async def test_a_callback_without_delay_waits_for_the_next_days_window(
    store: Store, tmp_path: Path
) -> None:
    number = NEW_YORK[0]
    engine = SimulatedRetell(
        speed=200, seed=6, rules=[OutcomeRule(["user_requested_callback"], number=number)]
    )
    retry = {"max_attempts": 2, "backoff": ["1s"]}  # no callback_delay
    path = write_campaign(
        tmp_path, [number], extra={"calling_hours": HOURS["calling_hours"], "retry": retry}
    )
    loaded = read_campaign_file(path)
    campaign_id = (await import_campaign(store, loaded)).campaign_id
    row = await store.campaign(campaign_id)
    assert row is not None
    clock = Clock.from_iso(TUESDAY_1430_UTC)
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
        anyio.create_task_group() as group,
    ):
        runner = CampaignRunner(store, client, row, fast_options(clock=clock))
        group.start_soon(runner.run)
        with anyio.fail_after(30):
            while True:
                async with store.engine.connect() as conn:
                    lead = (await conn.execute(select(leads))).one()
                if lead.state == "retry_wait":
                    break
                await anyio.sleep(0.1)
        runner.stop()
    # Wednesday 09:00 in New York, as seen from the pinned clock
    expected = datetime.now(UTC) + (datetime(2026, 11, 25, 14, tzinfo=UTC) - clock.now())
    assert abs((lead.next_attempt_at - expected).total_seconds()) < 5
