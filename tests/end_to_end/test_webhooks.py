"""Retell's webhook events: the signature (against the official library), the HTTP endpoint,
and a worker that records calls as their events arrive (the simulator posts them)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from retell.lib import webhook_auth
from sqlalchemy import select

from dialer.http.app import Webhooks, create_app
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.retell.webhooks import (
    FUTURE_SKEW_MS,
    SIGNATURE_HEADER,
    TOLERANCE_MS,
    BadEventError,
    CallEvent,
    parse_event,
    sign,
    verify,
)
from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import attempts, leads

from ..helpers import numbers, serving, write_campaign

KEY = "sim-key"
BODY = json.dumps({"event": "call_ended", "call": {"call_id": "c1", "call_status": "ended"}})


def now_ms() -> int:
    return int(time.time() * 1000)


def test_signatures_agree_with_the_official_library() -> None:
    assert webhook_auth.verify(BODY, KEY, sign(BODY, KEY, now_ms()))
    theirs = webhook_auth.symmetric["sign"](BODY, KEY)
    assert verify(BODY, KEY, theirs, now_ms())


@pytest.mark.parametrize(
    ("body", "key", "age_ms", "mangle"),
    [
        (BODY.replace("ended", "ongoing", 1), KEY, 0, False),  # body changed on the way
        (BODY, "another-key", 0, False),
        (BODY, KEY, 5 * 60 * 1000 + 1, False),  # stale
        (BODY, KEY, -(30 * 1000 + 1), False),  # from further in the future than clock skew
        (BODY, KEY, -(5 * 60 * 1000), False),  # five minutes ahead: a replay kept alive
        (BODY, KEY, 0, True),  # not the header's shape
    ],
)
def test_a_bad_signature_is_refused(body: str, key: str, age_ms: int, mangle: bool) -> None:
    now = now_ms()
    signature = sign(BODY, KEY, now - age_ms)
    if mangle:
        signature = signature.replace("d=", "digest=")
    assert not verify(body, key, signature, now)


@pytest.mark.parametrize("age_ms", [0, TOLERANCE_MS, -FUTURE_SKEW_MS, 1000, -1000])
def test_a_signature_is_good_from_five_minutes_old_to_30_seconds_ahead(age_ms: int) -> None:
    now = now_ms()
    assert (TOLERANCE_MS, FUTURE_SKEW_MS) == (5 * 60 * 1000, 30 * 1000)
    assert verify(BODY, KEY, sign(BODY, KEY, now - age_ms), now)


def test_event_bodies() -> None:
    event = parse_event(BODY.encode())
    assert (event.event, event.call.call_id, event.call.is_terminal) == ("call_ended", "c1", True)
    for bad, message in [
        (b"{", "not JSON"),
        (b'{"event": "call_ended"}', "`event` and `call`"),
        (b'{"event": "transcript_updated", "call": {}}', "unknown event"),
        (b'{"event": "call_ended", "call": {"call_id": "c1"}}', "call:"),
    ]:
        with pytest.raises(BadEventError, match=message):
            parse_event(bad)


@pytest.mark.anyio
async def test_the_endpoint_answers_as_retell_expects() -> None:
    received: list[CallEvent] = []

    async def record(event: CallEvent) -> None:
        received.append(event)

    async with serving(create_app(webhooks=Webhooks(KEY, record))) as port:
        url = f"http://127.0.0.1:{port}/retell"
        async with httpx.AsyncClient() as client:

            async def post(body: str, signature: str) -> int:
                headers = {SIGNATURE_HEADER: signature, "content-type": "application/json"}
                return (await client.post(url, content=body, headers=headers)).status_code

            assert await post(BODY, sign(BODY, KEY, now_ms())) == 204
            assert await post(BODY, sign(BODY, "wrong", now_ms())) == 401
            assert await post(BODY, sign(BODY, KEY, now_ms() + 5 * 60 * 1000)) == 401  # future
            assert await post(BODY, "") == 401
            assert await post("{}", sign("{}", KEY, now_ms())) == 400
            assert (await client.get(url)).status_code == 404
            assert (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 404
    assert [e.call.call_id for e in received] == ["c1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await condition() and time.monotonic() < deadline:
        await anyio.sleep(0.2)


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_worker_records_calls_as_their_events_arrive(
    store_url: str, tmp_path: Path
) -> None:
    """The simulator runs 60x faster than the worker thinks, so the worker's polls come
    seconds apart while calls end within a second or two: calls are recorded by their events.
    Events of connected calls bring the analysis afterwards, and it lands on the attempt."""
    path = write_campaign(tmp_path, numbers(30), name="hooks", cps=5, cap=10, max_attempts=1)
    store = await open_store(store_url)
    try:
        await import_campaign(store, read_campaign_file(path))
    finally:
        await store.close()
    port = _free_port()
    engine = SimulatedRetell(
        speed=60, seed=5, concurrency_limit=100, webhook_url=f"http://127.0.0.1:{port}/retell"
    )
    log = tmp_path / "worker.log"
    with run_simulator_in_thread(engine) as server:
        env = {
            **os.environ,
            "DATABASE_URL": store_url,
            "RETELL_BASE_URL": server.url,
            "RETELL_API_KEY": KEY,
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "dialer", "worker", "--webhook-port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        try:

            async def all_settled() -> bool:
                check = await open_store(store_url)
                try:
                    async with check.engine.connect() as conn:
                        states = [r.state for r in await conn.execute(select(leads.c.state))]
                finally:
                    await check.close()
                return all(state in ("completed", "failed", "skipped") for state in states)

            await _wait_for(all_settled, 60)
            await anyio.sleep(1.0)  # the last analyses
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(15)
        records = engine.records()
    assert await all_settled(), log.read_text()[-3000:]
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ended = [e for e in events if e.get("event") == "call_ended"]
    assert len(ended) == len(records["calls"])
    assert sum(e["source"] == "webhook" for e in ended) > len(ended) / 2, ended
    assert records["webhooks"] and all(w["status"] == 204 for w in records["webhooks"])
    analyzed = {w["call_id"] for w in records["webhooks"] if w["event"] == "call_analyzed"}
    assert analyzed
    check = await open_store(store_url)
    try:
        async with check.engine.connect() as conn:
            rows = list(await conn.execute(select(attempts.c.call_id, attempts.c.analysis)))
    finally:
        await check.close()
    assert all(row.analysis for row in rows if row.call_id in analyzed)
