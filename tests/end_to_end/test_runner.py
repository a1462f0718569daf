"""The runner end to end: simulator over real HTTP, store on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.dialing.options import FollowMode, RunOutcome
from dialer.simulator import Faults, OutcomeRule, SimulatedRetell
from dialer.store import Store
from dialer.store.schema import attempts, leads, suppressions

from ..helpers import (
    answers,
    check_invariants,
    fast_options,
    numbers,
    peak_live,
    run_in_process,
    write_campaign,
)

pytestmark = pytest.mark.anyio


async def _leads(store: Store) -> dict[str, dict[str, object]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(leads))
        return {r.to_number: dict(r._mapping) for r in rows}


async def test_scripted_outcomes_reach_the_expected_states(store: Store, tmp_path: Path) -> None:
    nums = numbers(6)
    rules = [
        OutcomeRule(["dial_no_answer", "dial_no_answer", "user_hangup"], number=nums[0]),
        OutcomeRule(["dial_busy"], number=nums[1]),
        OutcomeRule(["reject_422"], number=nums[2]),
        OutcomeRule(["user_requested_dnc"], number=nums[3]),
        OutcomeRule(["error_llm_websocket_lost_connection", "agent_hangup"], number=nums[4]),
        OutcomeRule(["brand_new_reason_from_2031", "user_hangup"], number=nums[5]),
    ]
    engine = SimulatedRetell(speed=200, rules=rules, seed=1)
    path = write_campaign(tmp_path, nums, max_attempts=3)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.FINISHED
    by_number = await _leads(store)
    expected = [
        ("completed", 3),
        ("failed", 3),
        ("failed", 1),
        ("completed", 1),
        ("completed", 2),
        ("completed", 2),
    ]
    assert [(by_number[n]["state"], by_number[n]["attempts"]) for n in nums] == expected
    assert "422" in str(by_number[nums[2]]["skip_reason"])
    async with store.engine.connect() as conn:
        suppressed = [r.to_number for r in await conn.execute(select(suppressions))]
        rows = list(await conn.execute(select(attempts).where(attempts.c.state == "ended")))
    assert suppressed == [nums[3]]
    assert all(r.call_id and r.ended_at and r.duration_ms is not None for r in rows)
    assert any(r.analysis for r in rows)
    check_invariants(engine.records(), max_attempts=3)


async def test_faults_cause_no_extra_and_no_overlapping_dial(store: Store, tmp_path: Path) -> None:
    faults = Faults(create_5xx=0.05, create_ambiguous=0.03, read_5xx=0.05, read_drop=0.02)
    engine = SimulatedRetell(speed=300, faults=faults, seed=7, concurrency_limit=100)
    nums = numbers(150)
    pool = {"from_numbers": ["+14155550101", "+14155550102"]}  # the faults hold with a pool
    path = write_campaign(tmp_path, nums, cps=40, cap=8, max_attempts=2, extra=pool)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.FINISHED
    records = engine.records()
    seen = answers(records)
    assert seen["502-after-create"] + seen["dropped-after-create"] > 0, seen
    assert seen["500-no-call"] > 0, seen
    check_invariants(records, max_attempts=2, cap=8, cps=40)
    by_number = await _leads(store)
    assert len(by_number) == 150
    assert all(lead["state"] in ("completed", "failed") for lead in by_number.values())
    # every call the simulator made is recorded on exactly one attempt
    async with store.engine.connect() as conn:
        recorded = [r.call_id for r in await conn.execute(select(attempts.c.call_id)) if r.call_id]
    assert sorted(recorded) == sorted(c["call_id"] for c in records["calls"])


async def test_ceilings_hold_at_the_simulator(store: Store, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=100, seed=3, concurrency_limit=100)
    path = write_campaign(tmp_path, numbers(80), cps=20, cap=5, max_attempts=1)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.FINISHED
    records = engine.records()
    counts = check_invariants(records, max_attempts=1, cap=5, cps=20)
    assert len(counts) == 80  # every lead was dialed, once
    assert peak_live(records) == 5  # the cap was reached (and held)


async def test_account_concurrency_limit_is_respected(store: Store, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=100, seed=4, concurrency_limit=3)
    path = write_campaign(tmp_path, numbers(30), cps=50, cap=10, max_attempts=1)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.FINISHED
    records = engine.records()
    assert len(check_invariants(records, max_attempts=1, cap=3)) == 30
    assert peak_live(records) == 3  # the account's limit, not the campaign's 10, bound it


async def test_429_bursts_spend_no_attempts(store: Store, tmp_path: Path) -> None:
    faults = Faults(burst_429_every=0.5, burst_429_seconds=0.2)
    engine = SimulatedRetell(
        speed=200, seed=5, faults=faults, rules=[OutcomeRule(["user_hangup"], suffix="")]
    )
    path = write_campaign(tmp_path, numbers(40), cps=50, cap=10, max_attempts=1)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.FINISHED
    assert answers(engine.records())["429-burst"] > 0
    by_number = await _leads(store)
    assert {lead["state"] for lead in by_number.values()} == {"completed"}
    assert {lead["attempts"] for lead in by_number.values()} == {1}


async def test_refused_key_stops_at_once_and_loses_nothing(store: Store, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=100)
    path = write_campaign(tmp_path, numbers(10))
    result = await run_in_process(store, engine, path, api_key="wrong-key")
    assert result.outcome is RunOutcome.FATAL
    assert "401" in result.message
    by_number = await _leads(store)
    assert {(lead["state"], lead["attempts"]) for lead in by_number.values()} == {("pending", 0)}
    assert engine.calls == {}


async def test_account_outcome_pauses_the_campaign(store: Store, tmp_path: Path) -> None:
    nums = numbers(20)
    engine = SimulatedRetell(speed=200, rules=[OutcomeRule(["credit_exhausted"], suffix="")])
    path = write_campaign(tmp_path, nums, cps=5, cap=2)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.PAUSED
    assert result.message == "credit_exhausted"
    by_number = await _leads(store)
    # the lead that met the outcome got its attempt back; the list was not burned through
    assert len(engine.calls) <= 3
    assert all(lead["attempts"] == 0 for lead in by_number.values())


async def test_unknown_disconnection_reason_never_crashes(store: Store, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=200, rules=[OutcomeRule(["reason_nobody_knows"], suffix="")])
    path = write_campaign(tmp_path, numbers(3), max_attempts=2, retry_on=["dial_busy"])
    result = await run_in_process(store, engine, path, fast_options())
    assert result.outcome is RunOutcome.FINISHED
    assert {lead["state"] for lead in (await _leads(store)).values()} == {"failed"}


async def test_attempts_in_doubt_resume_when_creates_answer_again(
    store: Store, tmp_path: Path
) -> None:
    """A window of 503s on creates only: every slot ends up held by an attempt in doubt,
    backing off; when creates answer again the campaign goes on to its end, without an extra
    or overlapping dial (the measured idle time after the window is in bench/recovery.py)."""
    faults = Faults(create_outage=(0.5, 3.5))
    engine = SimulatedRetell(speed=100, faults=faults, seed=5, concurrency_limit=100)
    path = write_campaign(tmp_path, numbers(15), cps=20, cap=3, max_attempts=2)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.FINISHED
    records = engine.records()
    assert answers(records)["503-outage"] > 0
    check_invariants(records, max_attempts=2, cap=3, cps=20)
    assert all(lead["state"] in ("completed", "failed") for lead in (await _leads(store)).values())


async def test_a_failure_spike_pauses_the_campaign_before_the_list_is_spent(
    store: Store, tmp_path: Path
) -> None:
    """Every call fails with dial_failed (a broken from-number): the campaign pauses itself
    with the reason and the figures after a window of calls; `dialer resume` goes on."""
    from dialer.operations import steering as control

    engine = SimulatedRetell(
        speed=200, seed=8, rules=[OutcomeRule(["dial_failed"], suffix="")], concurrency_limit=100
    )
    nums = numbers(80)
    breaker = {"breaker": {"window": 10, "max_failure_share": 0.5}}
    path = write_campaign(tmp_path, nums, cps=20, cap=4, max_attempts=1, extra=breaker)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.PAUSED
    assert result.message.startswith("failure spike: 10 of the last 10 calls failed (dial_failed")
    first_run = len(engine.records()["calls"])
    assert 10 <= first_run < 20  # paused within a window (plus the calls still in flight)
    row = await store.campaign("test")
    assert row is not None and row.status == "paused"

    resumed = await control.resume(store, "test")
    assert resumed.startswith("test resumed; no process is serving it now")  # none runs it now
    again = await run_in_process(store, engine, path)
    assert again.outcome is RunOutcome.PAUSED  # the line is still broken: a new window trips
    assert len(engine.records()["calls"]) >= first_run + 10
    check_invariants(engine.records(), max_attempts=1, cap=4)


async def test_calls_are_followed_in_batches_within_the_read_budget(
    store: Store, tmp_path: Path
) -> None:
    """One list-calls per tick follows every call; get-call is the rare fallback; reads stay
    within the process's budget (counted at the simulator)."""
    engine = SimulatedRetell(speed=20, seed=11, concurrency_limit=100, call_seconds=(2, 6))
    path = write_campaign(tmp_path, numbers(40), cps=20, cap=10, max_attempts=1)
    options = fast_options(follow_tick_seconds=0.25, api_reads_per_second=4.0)
    result = await run_in_process(store, engine, path, options, reads_per_second=4.0)
    assert result.outcome is RunOutcome.FINISHED
    records = engine.records()
    check_invariants(records, max_attempts=1, cap=10, cps=20)
    requests = records["requests"]
    # get-call is the rare fallback, beside the one read per connected call that fetches what
    # list items lack (its recording), once its analysis is in
    connected = sum(1 for c in records["calls"] if c["reason"] == "user_hangup")
    assert connected == 40
    fallback = requests.get("get-call", 0) - connected
    assert fallback >= 0 and requests["list-calls"] > 5 * fallback, requests
    reads = sorted(records["read_times"])
    # the budget is a leaky bucket of 4: at most 4 at once, then 4 a second
    for i, at in enumerate(reads):
        within = sum(1 for t in reads[i:] if t < at + 1.0)
        assert within <= 8, f"{within} reads within a second; the budget is 4/s"
    states = {lead["state"] for lead in (await _leads(store)).values()}
    assert states == {"completed"}


async def test_a_list_calls_outage_falls_back_to_get_call(store: Store, tmp_path: Path) -> None:
    """list-calls answers 503 all along: every call is still followed to its end, by its own
    get-call, and none is lost or dialed twice."""
    faults = Faults(list_down=True)
    engine = SimulatedRetell(speed=200, seed=12, faults=faults, concurrency_limit=100)
    path = write_campaign(tmp_path, numbers(30), cps=30, cap=10, max_attempts=1)
    options = fast_options(fallback_seconds=40.0)  # 0.2 s of real time at speed 200
    options.speed = 200
    result = await run_in_process(store, engine, path, options)
    assert result.outcome is RunOutcome.FINISHED
    records = engine.records()
    assert records["requests"]["get-call"] >= 30
    check_invariants(records, max_attempts=1, cap=10)
    async with store.engine.connect() as conn:
        recorded = [r.call_id for r in await conn.execute(select(attempts.c.call_id))]
    assert sorted(c for c in recorded if c) == sorted(c["call_id"] for c in records["calls"])
    assert {lead["state"] for lead in (await _leads(store)).values()} <= {"completed", "failed"}


async def test_a_budget_pauses_the_campaign_before_it_is_passed(
    store: Store, tmp_path: Path
) -> None:
    """budget_usd: the campaign pauses with `budget reached` before spend plus the expected
    cost of its live calls would pass it, and never spends more than the budget plus one
    call's cost. Cost and analysis that Retell adds after a call ended are recorded too."""
    from dialer.simulator.talk import CENTS_PER_SECOND

    engine = SimulatedRetell(
        speed=200,
        seed=14,
        concurrency_limit=100,
        call_seconds=(60, 120),
        late_analysis_share=0.5,
        late_analysis_seconds=60,
    )
    budget = 0.5  # dollars: about five calls of 60-120 s at 7 cents a minute
    path = write_campaign(
        tmp_path, numbers(40), cps=20, cap=3, max_attempts=1, extra={"budget_usd": budget}
    )
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.PAUSED
    assert result.message.startswith("budget reached: $")
    row = await store.campaign("test")
    assert row is not None
    summary = await store.summary(row.id)
    most_a_call_costs = 120 * CENTS_PER_SECOND
    assert 0 < summary.spend_cents <= budget * 100 + most_a_call_costs
    assert len(engine.records()["calls"]) < 40  # the list was not spent
    async with store.engine.connect() as conn:
        costs = [r.cost_cents for r in await conn.execute(select(attempts.c.cost_cents))]
    # late costs are picked up by the slower pass while the run lasts: only the calls that
    # ended last (at most one per slot) may still lack theirs when it stops
    assert sum(1 for c in costs if c is None) <= 3, costs
    assert abs(sum(c for c in costs if c is not None) - summary.spend_cents) < 1e-6

    # what the simulator's agent extracted, and the cost, in both export formats and status
    import csv
    import io
    import json

    from dialer.reporting.export import write_export
    from dialer.reporting.status import read_status

    for fmt in ("jsonl", "csv"):
        out = io.StringIO()
        assert await write_export(store, "test", fmt, per_attempt=False, out=out)
        if fmt == "jsonl":
            rows = [json.loads(line) for line in out.getvalue().splitlines()]
            called = [r for r in rows if r["attempts"]]
            assert any(r["analysis"].get("plan") for r in called)
            assert sum(r["cost_usd"] or 0 for r in rows) == pytest.approx(summary.spend_cents / 100)
        else:
            table = list(csv.DictReader(io.StringIO(out.getvalue())))
            assert {"analysis.renewed", "analysis.plan", "analysis.notes"} <= set(table[0])
            assert all(not r["analysis.notes"].startswith(("-", "+")) for r in table)
    (view,) = await read_status(store, "test", datetime.now(UTC))
    shown = view.as_json()
    assert shown["spend_usd"] == pytest.approx(summary.spend_cents / 100, abs=1e-4)
    assert shown["cost_per_connected_call_usd"] > 0


@pytest.mark.parametrize("cost_per_minute", [0.15, 0.02])
async def test_a_budget_holds_when_every_cost_comes_late(
    store: Store, tmp_path: Path, cost_per_minute: float
) -> None:
    """Retell reports each call's cost a while after it ended (here: all of them, 60 s later).
    The budget plans with spend known plus the expected cost of every call not costed yet —
    live and ended — priced at `cost_per_minute` until the campaign's own costs come: spend
    ends within the budget plus the largest single call, with a prior above the real price
    (7 cents a minute) and with one far below it."""
    from dialer.simulator.talk import CENTS_PER_SECOND

    engine = SimulatedRetell(
        speed=200,
        seed=15,
        concurrency_limit=100,
        call_seconds=(60, 90),
        late_analysis_share=1.0,
        late_analysis_seconds=60,
    )
    budget = 1.0  # dollars: about ten calls of 60-90 s at 7 cents a minute
    path = write_campaign(
        tmp_path,
        numbers(60),
        cps=20,
        cap=4,
        max_attempts=1,
        extra={"budget_usd": budget, "cost_per_minute": cost_per_minute},
    )
    options = fast_options(speed=200)
    result = await run_in_process(store, engine, path, options)
    assert result.outcome is RunOutcome.PAUSED
    assert result.message.startswith("budget reached: $")
    assert "pending estimate" in result.message
    row = await store.campaign("test")
    assert row is not None
    summary = await store.summary(row.id)
    calls = engine.records()["calls"]
    largest = max(c["terminal_at"] - c["created"] for c in calls) * 200 * CENTS_PER_SECOND
    # every cost is in (the run waited for the late ones), and they add up to the budget
    # plus at most one call
    async with store.engine.connect() as conn:
        costs = [r.cost_cents for r in await conn.execute(select(attempts.c.cost_cents))]
    assert None not in costs and len(costs) == len(calls)
    assert summary.spend_cents == pytest.approx(sum(costs))
    assert 0.6 * budget * 100 < summary.spend_cents <= budget * 100 + largest, (
        summary.spend_cents,
        largest,
    )


async def test_status_shows_spend_known_and_the_pending_estimate(
    store: Store, tmp_path: Path
) -> None:
    """Before Retell reports any cost, `dialer status` shows $0 known plus the expected cost of
    the calls that ended or are live (at cost_per_minute), in JSON, the table and the report."""
    import anyio

    from dialer.reporting.status import read_status
    from dialer.reporting.terminal import summary_table

    from ..helpers import running

    engine = SimulatedRetell(
        speed=100, seed=16, call_seconds=(60, 60), late_analysis_seconds=100_000
    )
    path = write_campaign(
        tmp_path, numbers(20), cps=20, cap=4, max_attempts=1, extra={"cost_per_minute": 0.30}
    )
    async with running(store, engine, path, fast_options(speed=100)):
        with anyio.fail_after(60):
            while sum(1 for c in engine.calls.values() if engine.status(c) != "registered") < 6:
                await anyio.sleep(0.05)
            while (await store.summary(1)).leads_by_state.get("completed", 0) < 4:
                await anyio.sleep(0.05)
        (view,) = await read_status(store, "test", datetime.now(UTC))
    shown = view.as_json()
    assert shown["spend_usd"] == 0  # nothing reported yet
    # four or more calls of a minute ended, each at $0.30 a minute
    assert shown["spend_pending_usd"] >= 4 * 0.30 * 0.99
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(summary_table("test", view.summary))
    text = console.export_text()
    assert "$0.00 + $" in text and "pending" in text


async def test_following_per_call_finishes_and_picks_up_late_analyses(
    store: Store, tmp_path: Path
) -> None:
    """`--follow get-call` (one read per live call): the run still ends, with the analyses and
    costs Retell adds after each call ended."""
    engine = SimulatedRetell(speed=100, seed=17, call_seconds=(20, 40))
    path = write_campaign(tmp_path, numbers(12), cps=20, cap=4, max_attempts=1)
    options = fast_options(speed=100, follow=FollowMode.GET_CALL)
    result = await run_in_process(store, engine, path, options, limit_seconds=60)
    assert result.outcome is RunOutcome.FINISHED
    async with store.engine.connect() as conn:
        rows = list(await conn.execute(select(attempts.c.analysis, attempts.c.cost_cents)))
    assert len(rows) == 12
    assert all(r.analysis is not None and r.cost_cents is not None for r in rows)


async def test_creates_refused_alike_pause_the_campaign_instead_of_failing_the_list(
    store: Store, tmp_path: Path
) -> None:
    """Every create refused 400 with one message (a broken from-number or agent): after five
    in a row the campaign pauses, the fifth lead gets its attempt back, and the rest of the
    list is never tried (it is not burnt through as `failed`)."""
    engine = SimulatedRetell(
        speed=100, seed=18, faults=Faults(create_refused="from_number is not found")
    )
    path = write_campaign(tmp_path, numbers(40), cps=20, cap=1, max_attempts=2)
    result = await run_in_process(store, engine, path)
    assert result.outcome is RunOutcome.PAUSED
    assert result.message.startswith("the last 5 creates were all refused alike (400: ")
    leads_by_state = {}
    for lead in (await _leads(store)).values():
        leads_by_state[lead["state"]] = leads_by_state.get(lead["state"], 0) + 1
    assert leads_by_state == {"failed": 4, "pending": 36}
    # the fifth refusal paused it; a create already on its way may follow (cap 1: one)
    assert 5 <= len(engine.records()["creates"]) <= 6


async def test_no_create_phone_call_at_the_base_url_stops_and_spends_nothing(
    store: Store, tmp_path: Path
) -> None:
    """A RETELL_BASE_URL with a path (…/v2) or a proxy that routes elsewhere answers 404 to
    create-phone-call — a code Retell's document does not list for it: the run stops at once,
    saying which setting to fix, and no lead is failed."""
    from dialer.retell import RetellClient
    from dialer.retell.settings import ApiKey
    from dialer.simulator import SimulatorServer

    from ..helpers import fast_options

    engine = SimulatedRetell(speed=100, seed=19)
    path = write_campaign(tmp_path, numbers(10), cps=20, cap=2)
    from dialer.dialing.runner import CampaignRunner
    from dialer.inputs.campaign_file import read_campaign_file
    from dialer.operations.loading import import_campaign

    row = await store.campaign((await import_campaign(store, read_campaign_file(path))).campaign_id)
    assert row is not None
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url + "/v2") as client,
    ):
        result = await CampaignRunner(store, client, row, fast_options()).run()
    assert result.outcome is RunOutcome.MISCONFIGURED
    assert "is RETELL_BASE_URL right?" in result.message and "/v2" in result.message
    assert {lead["state"] for lead in (await _leads(store)).values()} == {"pending"}
    assert all(lead["attempts"] == 0 for lead in (await _leads(store)).values())
