"""The pre-dial hook, a real HTTP server on loopback, on both stores: `allow: false` skips
the lead with its reason, `allow: true` dials with its variables merged in; a hook that times
out or answers 500 causes no dial and spends no attempt (fail closed), while other leads go on."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dialer.simulator import SimulatedRetell
from dialer.store import Store

from ..helpers import (
    fast_options,
    lead_rows,
    numbers,
    run_in_process,
    running,
    serving,
    write_campaign,
)

pytestmark = pytest.mark.anyio


def _hook(answer: Callable[[Request], Awaitable[Response]]) -> Starlette:
    """A pre-dial hook service answering POST on any path."""
    return Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])


def _campaign(tmp_path: Path, nums: list[str], url: str, timeout: str = "2s") -> Path:
    hook = {"pre_dial_hook": {"url": url, "timeout": timeout, "retry_after": "10m"}}
    return write_campaign(tmp_path, nums, cps=50, cap=5, max_attempts=1, extra=hook)


async def test_the_hook_allows_with_variables_or_refuses_with_a_reason(
    store: Store, tmp_path: Path
) -> None:
    refused, allowed = numbers(2)
    asked: list[dict[str, object]] = []

    async def answer(request: Request) -> Response:
        body = json.loads(await request.body())
        asked.append(body)
        if body["to_number"] == refused:
            verdict = {"allow": False, "reason": "opted out in the CRM"}
        else:
            verdict = {"allow": True, "dynamic_variables": {"crm_tier": "gold"}}
        return JSONResponse(verdict)

    engine = SimulatedRetell(speed=200, seed=1, call_seconds=(10, 20))
    async with serving(_hook(answer)) as port:
        path = _campaign(tmp_path, [refused, allowed], f"http://127.0.0.1:{port}/check")
        result = await run_in_process(store, engine, path)
    assert result.outcome.value == "finished"
    rows = {r["to_number"]: r for r in await lead_rows(store)}
    assert (rows[refused]["state"], rows[refused]["attempts"]) == ("skipped", 0)
    assert rows[refused]["skip_reason"] == "refused by the pre-dial hook: opted out in the CRM"
    assert rows[allowed]["state"] == "completed"
    (call,) = engine.calls.values()
    assert call.to_number == allowed and call.variables["crm_tier"] == "gold"
    assert {str(a["to_number"]) for a in asked} == {refused, allowed}
    assert set(asked[0]) == {
        "campaign",
        "lead_id",
        "to_number",
        "attempt",
        "dynamic_variables",
        "metadata",
    }


async def test_a_hook_that_fails_dials_nothing_and_spends_no_attempt(
    store: Store, tmp_path: Path
) -> None:
    slow, broken, fine = numbers(3)

    async def answer(request: Request) -> Response:
        number = json.loads(await request.body())["to_number"]
        if number == slow:
            await anyio.sleep(5)  # past the hook's timeout
        if number in (slow, broken):
            return PlainTextResponse("oops", 500)
        return JSONResponse({"allow": True})

    engine = SimulatedRetell(speed=200, seed=2, call_seconds=(10, 20))
    async with serving(_hook(answer)) as port:
        path = _campaign(tmp_path, [slow, broken, fine], f"http://127.0.0.1:{port}/", "300ms")
        async with running(store, engine, path, fast_options(exit_when_done=False)) as runner:
            await anyio.sleep(2.5)
            campaign_id = runner.row.id
    assert [c.to_number for c in engine.calls.values()] == [fine]  # the slow hook held no one
    rows = {r["to_number"]: r for r in await lead_rows(store)}
    for number in (slow, broken):
        lead = rows[number]
        assert (lead["state"], lead["attempts"]) == ("pending", 0), lead
        assert lead["wait_reason"] == "pre_dial_hook_failed"
    summary = await store.summary(campaign_id)
    assert summary.waiting_by_reason == {"pre_dial_hook_failed": 2}
