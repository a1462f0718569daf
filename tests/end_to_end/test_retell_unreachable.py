"""Retell that cannot be reached (refused, DNS, TLS, timeout): said in words a person can act
on, and, in the middle of a run, waited out without claiming — instead of requeueing every
lead as `not_placed` over and over — with one log line when it starts and one when it ends,
`/readyz` 503 meanwhile. Exactly-once is untouched: nothing ambiguous is ever redialed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func, select

import dialer.retell.recovery as recovery_module
from dialer.app.health import WorkerHealth
from dialer.dialing.options import RunOutcome, RunResult
from dialer.dialing.runner import CampaignRunner
from dialer.dialing.worker import Worker
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.retell import RetellClient, RetellTransportError, RetellUnreachableError
from dialer.retell.settings import ApiKey
from dialer.simulator import SimulatedRetell, SimulatorServer
from dialer.store import Store
from dialer.store.schema import attempts, leads

from ..helpers import check_invariants, fast_options, numbers, write_campaign

pytestmark = pytest.mark.anyio


class _Events:
    """Stands in for the client's logger: which events it logged."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def warning(self, event: str, **_: Any) -> None:
        self.names.append(event)

    info = warning


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> RetellClient:
    return RetellClient(ApiKey("k"), "https://retell.test", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "ConnectError"),
        (httpx.ConnectTimeout("timed out"), "timed out connecting"),
    ],
)
async def test_the_start_check_names_the_cause(fault: Exception, cause: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise fault

    async with _client(fail) as client:
        with pytest.raises(RetellUnreachableError) as caught:
            await client.check_reachable(within=10)
    assert str(caught.value).startswith("cannot reach Retell at https://retell.test: ")
    assert cause in str(caught.value)


async def test_the_start_check_gives_up_on_silence_and_accepts_any_answer() -> None:
    async def silent(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(60)
        raise AssertionError("unreachable")

    async with RetellClient(
        ApiKey("k"), "https://retell.test", transport=httpx.MockTransport(silent)
    ) as client:
        with pytest.raises(RetellUnreachableError, match=r"no answer within 0\.3 s"):
            await client.check_reachable(within=0.3)
    # a proxy that does not know get-concurrency answers: Retell is reachable, the run goes on
    async with _client(lambda request: httpx.Response(404, json={"message": "nope"})) as client:
        await client.check_reachable(within=10)
        assert client.unreachable is None


async def test_reachability_changes_are_logged_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _Events()
    monkeypatch.setattr(recovery_module, "log", events)
    up = {"now": False}

    def flaky(request: httpx.Request) -> httpx.Response:
        if not up["now"]:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return httpx.Response(200, json={"current_concurrency": 0, "concurrency_limit": 20})

    async with _client(flaky) as client:
        for _ in range(3):
            with pytest.raises(RetellTransportError):
                await client.get_concurrency()
        assert client.unreachable == "ConnectError: [Errno 111] Connection refused"
        up["now"] = True
        with anyio.fail_after(10):
            await client.until_reachable(probe_every=0.05)
        assert client.unreachable is None
        await client.get_concurrency()
    assert events.names == ["retell_unreachable", "retell_reachable"]


async def _count(store: Store, *where: Any) -> int:
    async with store.engine.connect() as conn:
        stmt = select(func.count()).select_from(attempts).where(*where)
        return int((await conn.execute(stmt)).scalar_one())


async def test_retell_going_away_mid_run_holds_claims_until_it_is_back(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retell refusing connections mid-run used to requeue lead after lead as `not_placed`
    (at the dial rate, for as long as it lasted) while the progress showed dials going out."""
    events = _Events()
    monkeypatch.setattr(recovery_module, "log", events)
    engine = SimulatedRetell(speed=200, seed=8, concurrency_limit=100)
    path = write_campaign(tmp_path, numbers(60), cps=20, cap=30, max_attempts=1)
    row = await store.campaign((await import_campaign(store, read_campaign_file(path))).campaign_id)
    assert row is not None
    server = SimulatorServer(engine)
    await server.start()
    port = server.port
    outcome: list[RunResult] = []
    try:
        async with (
            RetellClient(
                ApiKey("sim-key"), server.url, create_timeout=2.0, read_timeout=2.0
            ) as client,
            anyio.create_task_group() as group,
        ):
            runner = CampaignRunner(store, client, row, fast_options())

            async def run() -> None:
                outcome.append(await runner.run())

            group.start_soon(run)
            with anyio.fail_after(60):
                while runner.stats.placed < 5:  # dialing is under way
                    await anyio.sleep(0.02)
            await server.close()  # Retell goes away: connections are refused
            with anyio.fail_after(60):
                while client.unreachable is None:  # the runner found out
                    await anyio.sleep(0.02)
            ready = await WorkerHealth(
                store, client, Worker(store, client, fast_options), 2.0
            ).ready()
            with anyio.move_on_after(10):  # leads claimed but not yet sent go back first
                while await _count(store, attempts.c.state == "dialing"):
                    await anyio.sleep(0.05)
            claimed = await _count(store, attempts.c.campaign_id == row.id)
            await anyio.sleep(1.5)  # at 20 dials/s: 30 more claims if it kept claiming
            claimed_since = await _count(store, attempts.c.campaign_id == row.id) - claimed
            still_unreachable = client.unreachable is not None

            server = SimulatorServer(engine, port=port)
            await server.start()  # Retell is back
            with anyio.fail_after(90):
                while not outcome:
                    await anyio.sleep(0.05)
    finally:
        await server.close()
    assert outcome == [RunResult(RunOutcome.FINISHED)]
    assert claimed_since <= 0 and still_unreachable
    healthy, details = ready
    assert not healthy and str(details["retell"]).startswith("unreachable for "), details
    assert events.names.count("retell_unreachable") == 1, events.names
    assert events.names.count("retell_reachable") == 1, events.names
    # only the creates under way at the instant it went were refused (and they made no call)
    assert await _count(store, attempts.c.state == "not_placed") <= 5
    async with store.engine.connect() as conn:
        states = {r[0] for r in await conn.execute(select(leads.c.state))}
    assert states <= {"completed", "failed"}
    check_invariants(engine.records(), max_attempts=1, cap=30)
