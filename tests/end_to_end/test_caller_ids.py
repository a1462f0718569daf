"""Caller-ID pools, number health, voicemail policy and alternate numbers, on both stores,
against the simulator (which records each call's from-number and agent_override)."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from dialer.dialing.options import RunOutcome
from dialer.dialing.runner import CampaignRunner
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.reporting.status import read_status
from dialer.retell import RetellClient
from dialer.retell.settings import ApiKey
from dialer.simulator import OutcomeRule, SimulatedRetell, SimulatorServer
from dialer.store import Store
from dialer.store.schema import attempts

from ..helpers import (
    check_invariants,
    fast_options,
    lead_rows,
    numbers,
    run_in_process,
    write_campaign,
)

pytestmark = pytest.mark.anyio

# write_campaign sets from_number +14155550100 too: the pool is these three
POOL = ["+14155550100", "+14155550101", "+14155550102"]


def _calls_by_lead(records: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in sorted(records["calls"], key=lambda c: c["created"]):
        found[call["to_number"]].append(call)
    return found


async def test_a_lead_keeps_its_from_number_across_retries(store: Store, tmp_path: Path) -> None:
    nums = numbers(9)
    engine = SimulatedRetell(
        speed=200,
        seed=21,
        rules=[OutcomeRule(["dial_no_answer", "dial_busy", "user_hangup"], suffix="")],
    )
    path = write_campaign(
        tmp_path, nums, max_attempts=3, backoff="100ms", extra={"from_numbers": POOL}
    )
    assert (await run_in_process(store, engine, path)).outcome is RunOutcome.FINISHED
    by_lead = _calls_by_lead(engine.records())
    assert all(len(calls) == 3 for calls in by_lead.values())
    for calls in by_lead.values():
        assert len({c["from_number"] for c in calls}) == 1  # sticky
    used = defaultdict(int)
    for calls in by_lead.values():
        used[calls[0]["from_number"]] += 1
    assert set(used) == set(POOL) and max(used.values()) - min(used.values()) <= 1  # spread


async def test_local_presence_chooses_by_area_code_then_state(store: Store, tmp_path: Path) -> None:
    miami, atlanta, new_york = "+13055550101", "+14045550101", "+12125550101"
    pool = [miami, atlanta, new_york]
    leads = {
        "+13052000001": miami,  # same area code
        "+17862000001": miami,  # 786 is Miami too: same state, another area code
        "+14702000001": atlanta,  # 470 overlays Atlanta
        "+16172000001": None,  # Massachusetts: none local, the least used
    }
    engine = SimulatedRetell(speed=200, seed=22, rules=[OutcomeRule(["user_hangup"], suffix="")])
    path = write_campaign(
        tmp_path,
        list(leads),
        extra={"from_numbers": pool, "local_presence": True, "state_rules": False},
    )
    assert (await run_in_process(store, engine, path)).outcome is RunOutcome.FINISHED
    by_lead = _calls_by_lead(engine.records())
    for lead, expected in leads.items():
        if expected is not None:
            assert by_lead[lead][0]["from_number"] == expected, lead
    assert by_lead["+16172000001"][0]["from_number"] in pool


async def test_the_per_number_ceiling_holds_with_two_workers(store: Store, tmp_path: Path) -> None:
    nums = numbers(10)
    engine = SimulatedRetell(speed=200, seed=23, rules=[OutcomeRule(["user_hangup"], suffix="")])
    path = write_campaign(
        tmp_path,
        nums,
        cap=10,
        extra={"from_numbers": POOL[:2], "max_calls_per_number_per_day": 3},
    )
    loaded = await import_campaign(store, read_campaign_file(path))
    row = await store.campaign(loaded.campaign_id)
    assert row is not None
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
        anyio.create_task_group() as group,
    ):
        runners = [
            CampaignRunner(store, client, row, fast_options(worker=f"w{i}", exit_when_done=False))
            for i in range(2)
        ]
        for runner in runners:
            group.start_soon(runner.run)
        with anyio.fail_after(30):
            while True:
                rows = await lead_rows(store)
                if sum(r["state"] == "completed" for r in rows) >= 6 and all(
                    r["wait_reason"] == "from_number_ceiling"
                    for r in rows
                    if r["state"] == "pending"
                ):
                    break
                await anyio.sleep(0.05)
        for runner in runners:  # every waiting lead was judged at its ceiling: nothing more
            runner.stop()
    per_number = defaultdict(int)
    for call in engine.records()["calls"]:
        per_number[call["from_number"]] += 1
    assert dict(per_number) == {POOL[0]: 3, POOL[1]: 3}
    waiting = [r for r in await lead_rows(store) if r["state"] == "pending"]
    assert len(waiting) == 4 and all(r["attempts"] == 0 for r in waiting)


async def test_a_spam_marked_number_is_retired_and_the_campaign_finishes_on_the_others(
    store: Store, tmp_path: Path
) -> None:
    nums = numbers(15)
    engine = SimulatedRetell(
        speed=200,
        seed=24,
        spam_after={POOL[0]: 2},
        rules=[OutcomeRule(["user_hangup"], suffix="")],
    )
    path = write_campaign(tmp_path, nums, cap=3, extra={"from_numbers": POOL})
    assert (await run_in_process(store, engine, path)).outcome is RunOutcome.FINISHED
    rows = await lead_rows(store)
    assert {r["state"] for r in rows} == {"completed"}
    calls = engine.records()["calls"]
    spam = [c for c in calls if c["reason"] == "marked_as_spam"]
    assert spam and {c["from_number"] for c in spam} == {POOL[0]}
    # every call after the first spam mark came from the other numbers (at most the calls
    # already in flight then used it)
    first_mark = min(c["created"] for c in spam)
    later = [c for c in calls if c["created"] > first_mark + 0.3]
    assert later and POOL[0] not in {c["from_number"] for c in later}
    view = (await read_status(store, "test", __import__("datetime").datetime.now()))[0]
    states = {n["number"]: n["state"] for n in view.as_json()["from_numbers"]}
    assert states[POOL[0]] == "retired" and states[POOL[1]] == "active"
    # the spam-marked calls gave their leads their attempts back
    counts = check_invariants(engine.records(), max_attempts=3 + len(spam))
    assert set(counts) == set(nums)


async def test_the_campaign_pauses_when_no_number_is_left(store: Store, tmp_path: Path) -> None:
    nums = numbers(6)
    engine = SimulatedRetell(
        speed=200,
        seed=25,
        spam_after={POOL[0]: 0, POOL[1]: 0},
        rules=[OutcomeRule(["user_hangup"], suffix="")],
    )
    path = write_campaign(tmp_path, nums, cap=1, cps=5, extra={"from_numbers": POOL[:2]})
    result = await run_in_process(store, engine, path, limit_seconds=30)
    assert result.outcome is RunOutcome.PAUSED
    campaign = await store.campaign(await store.campaign_id("test"))
    assert campaign is not None and campaign.status_reason == "every from-number is retired"
    rows = await lead_rows(store)
    assert all(r["state"] in ("pending", "retry_wait") and r["attempts"] == 0 for r in rows)


@pytest.mark.parametrize(
    ("leave", "expected_actions", "final_state"),
    [
        ("last_attempt", ["hangup", "hangup", "static_text"], "completed"),
        ("every_attempt", ["static_text"], "completed"),
        ("never", ["hangup", "hangup", "hangup"], "failed"),
    ],
)
async def test_the_voicemail_option_follows_the_policy(
    store: Store, tmp_path: Path, leave: str, expected_actions: list[str], final_state: str
) -> None:
    lead = numbers(1)[0]
    engine = SimulatedRetell(
        speed=200, seed=26, rules=[OutcomeRule(["voicemail_reached"], number=lead)]
    )
    voicemail: dict[str, Any] = {"leave_message": leave}
    if leave != "never":
        voicemail["message"] = "Hi, it's Acme about your renewal; call us back at 555-0100."
    path = write_campaign(
        tmp_path, [lead], max_attempts=3, backoff="100ms", extra={"voicemail": voicemail}
    )
    assert (await run_in_process(store, engine, path)).outcome is RunOutcome.FINISHED
    calls = _calls_by_lead(engine.records())[lead]
    actions = [c["agent_override"]["agent"]["voicemail_option"]["action"]["type"] for c in calls]
    assert actions == expected_actions
    if leave != "never":
        assert calls[-1]["agent_override"]["agent"]["voicemail_option"]["action"][
            "text"
        ].startswith("Hi")
    (row,) = await lead_rows(store)
    assert row["state"] == final_state
    async with store.engine.connect() as conn:
        recorded = [
            r.voicemail_action
            for r in await conn.execute(
                select(attempts.c.voicemail_action).order_by(attempts.c.number)
            )
        ]
    assert recorded == expected_actions  # what each attempt asked for is on its row


async def test_a_lead_is_reached_on_its_alternate_and_a_dnc_alternate_is_never_dialed(
    store: Store, tmp_path: Path
) -> None:
    primary, alternate, other, dnc_alternate = numbers(4)
    (tmp_path / "dnc.txt").write_text(f"{dnc_alternate}\n")
    leads_file = tmp_path / "alt-leads.csv"
    leads_file.write_text(
        f"to_number,alt_number_1,first_name\n{primary},{alternate},Ann\n{other},{dnc_alternate},Bo\n"
    )
    engine = SimulatedRetell(
        speed=200,
        seed=27,
        rules=[
            OutcomeRule(["invalid_destination"], number=primary),
            OutcomeRule(["user_hangup"], number=alternate),
            OutcomeRule(["dial_no_answer"], number=other),
        ],
    )
    path = write_campaign(
        tmp_path, [], max_attempts=2, backoff="100ms", extra={"suppress": ["dnc.txt"]}
    )
    text = path.read_text().replace("test-leads.csv", "alt-leads.csv")
    path.write_text(text)
    assert (await run_in_process(store, engine, path)).outcome is RunOutcome.FINISHED
    dialed = [c["to_number"] for c in sorted(engine.records()["calls"], key=lambda c: c["created"])]
    assert dialed.count(primary) == 1 and dialed.count(alternate) == 1
    assert dnc_alternate not in dialed and dialed.count(other) == 2
    rows = {r["lead_key"]: r for r in await lead_rows(store)}
    ann = rows[primary]
    assert (ann["state"], ann["to_number"], ann["number_index"], ann["attempts"]) == (
        "completed",
        alternate,
        1,
        1,
    )
    assert rows[other]["state"] == "failed"


def test_the_simulator_command_refuses_a_bad_spam_after() -> None:
    from click.testing import CliRunner

    from dialer.cli import main

    result = CliRunner().invoke(main, ["simulator", "--spam-after", "+14155550101"])
    assert result.exit_code == 2 and "is not NUMBER:N" in result.output


async def test_a_pool_without_a_ceiling_spreads_its_calls(store: Store, tmp_path: Path) -> None:
    """Every claim reads each number's calls of the last day: four numbers dialing 60 leads
    take turns (before, one of them made 51 of the calls)."""
    pool = [*POOL, "+14155550103"]
    engine = SimulatedRetell(speed=50, seed=31, rules=[OutcomeRule(["user_hangup"], suffix="")])
    path = write_campaign(
        tmp_path, numbers(60), cps=12 / 50, cap=30, max_attempts=1, extra={"from_numbers": pool}
    )
    options = fast_options(speed=50)
    assert (await run_in_process(store, engine, path, options)).outcome is RunOutcome.FINISHED
    per_number = Counter(c["from_number"] for c in engine.records()["calls"])
    assert sum(per_number.values()) == 60 and set(per_number) == set(pool)
    assert max(per_number.values()) - min(per_number.values()) <= 2, per_number
