"""The results webhook through real processes and a real receiver on loopback: a receiver that
fails, then hangs, then comes back gets every finished lead's `lead_finished` at least once,
signed, each lead's events in order, while the campaign finishes at its own pace; and a
process SIGKILLed mid-delivery loses nothing (another delivers the event once its lease
lapses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dialer.domain.results_push import verify
from dialer.reporting.export import LEAD_FIELDS
from dialer.simulator import SimulatedRetell, run_simulator_in_thread
from dialer.store import open_store
from dialer.store.schema import leads, results_outbox

from ..helpers import numbers, serving, write_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SECRET = "crm-signing-secret"
DIALER = (sys.executable, "-m", "dialer")
QUIET = ("--no-progress", "--log-format", "json")


class Receiver:
    """A results receiver: answers 500 to its first `failures` requests, then hangs (past
    dialer's 5 s timeout) until `back` is set, then takes everything."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.back = anyio.Event()
        self.seen: list[dict[str, Any]] = []  # every request, in order of arrival
        self.timeline: list[tuple[dict[str, Any], str]] = []  # each with what it was answered
        self.taken: list[dict[str, Any]] = []  # the ones answered 2xx, in order
        self.hung: list[str] = []  # event ids of requests held while hanging
        self.bad_signatures = 0
        self.bad_headers = 0

    async def answer(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-dialer-signature", "")
        if not verify(body, SECRET, signature, int(time.time() * 1000)):
            self.bad_signatures += 1
        event = json.loads(body)
        if request.headers.get("x-dialer-event-id") != event["event_id"]:
            self.bad_headers += 1
        if request.headers.get("content-type") != "application/json":
            self.bad_headers += 1
        self.seen.append(event)
        if self.failures > 0:
            self.failures -= 1
            self.timeline.append((event, "failed"))
            return PlainTextResponse("down", status_code=500)
        if not self.back.is_set():
            self.hung.append(event["event_id"])
            self.timeline.append((event, "hung"))
            with anyio.move_on_after(60):
                await self.back.wait()
            return PlainTextResponse("too late", status_code=503)  # dialer gave up already
        self.taken.append(event)
        self.timeline.append((event, "taken"))
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/results", self.answer, methods=["POST"])])


@asynccontextmanager
async def _receiving(failures: int) -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver(failures)
    async with serving(receiver.app()) as port:
        yield receiver, f"http://127.0.0.1:{port}/results"
    receiver.back.set()


def _campaign(tmp_path: Path, count: int, url: str) -> Path:
    hook = {"results_webhook": {"url": url, "secret_env": "CRM_SECRET"}}
    return write_campaign(tmp_path, numbers(count), cps=20, cap=4, max_attempts=2, extra=hook)


def _env(url: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CRM_SECRET": SECRET,
        "DIALER_LEASE_SECONDS": "2",
        "DIALER_RESULTS_DRAIN_SECONDS": "90",
        **more,
    }


async def _finished_leads(url: str) -> dict[str, str] | None:
    """lead_id → state once every lead is in a final state, else None."""
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(leads.c.lead_key, leads.c.state))).all()
    finally:
        await store.close()
    if rows and all(state in ("completed", "failed", "skipped") for _, state in rows):
        return {str(key): str(state) for key, state in rows}
    return None


async def _outbox_states(url: str) -> list[str]:
    store = await open_store(url)
    try:
        async with store.engine.connect() as conn:
            return [r[0] for r in await conn.execute(select(results_outbox.c.state))]
    finally:
        await store.close()


def _check_deliveries(receiver: Receiver, finished: dict[str, str]) -> None:
    """Each finished lead's lead_finished was taken; every request was signed; no lead's event
    was sent before all its earlier ones were taken."""
    assert receiver.bad_signatures == 0 and receiver.bad_headers == 0
    taken_finishes = {e["lead_id"] for e in receiver.taken if e["event"] == "lead_finished"}
    assert taken_finishes == set(finished)
    for event in receiver.taken:
        if event["event"] == "lead_finished":
            assert event["state"] == finished[event["lead_id"]]
            assert set(event) == {"event_id", "event", "campaign", "event_at", *LEAD_FIELDS}
    # a lead's events, in order: its attempts by number, then its finish
    every: dict[str, dict[str, tuple[int, int]]] = {}
    for event in receiver.taken:
        rank = event["attempt"] if event["event"] == "attempt_ended" else 1_000
        every.setdefault(event["lead_id"], {})[event["event_id"]] = (rank, 0)
    taken: set[str] = set()
    for event, outcome in receiver.timeline:  # when one was sent, its earlier ones were taken
        rank = event["attempt"] if event["event"] == "attempt_ended" else 1_000
        earlier = {e for e, (r, _) in every[event["lead_id"]].items() if r < rank}
        assert earlier <= taken, (event["lead_id"], event["event"], outcome)
        if outcome == "taken":
            taken.add(event["event_id"])


async def test_a_failing_then_hanging_receiver_gets_everything_and_never_slows_dialing(
    store_url: str, tmp_path: Path
) -> None:
    async with _receiving(failures=3) as (receiver, url):
        path = _campaign(tmp_path, 12, url)
        log = tmp_path / "run.log"
        run = subprocess.Popen(
            [*DIALER, "run", str(path), "--simulate", "--speed", "300", *QUIET],
            env=_env(store_url),
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        try:
            # the receiver hangs until every lead is finished: if delivering held dialing up,
            # the campaign could never finish
            finished = None
            deadline = time.monotonic() + 90
            while finished is None and time.monotonic() < deadline:
                assert run.poll() is None, log.read_text()[-3000:]
                await anyio.sleep(0.2)
                finished = await _finished_leads(store_url)
            assert finished is not None, log.read_text()[-3000:]
            assert receiver.hung, "the campaign finished before any delivery hung"
            assert not receiver.taken  # nothing was delivered while it failed and hung
            receiver.back.set()
            deadline = time.monotonic() + 100
            while run.poll() is None and time.monotonic() < deadline:
                await anyio.sleep(0.2)
            assert run.wait(5) == 0, log.read_text()[-3000:]
        finally:
            if run.poll() is None:
                run.kill()
    states = await _outbox_states(store_url)
    assert set(states) == {"delivered"}
    taken = [e["event_id"] for e in receiver.taken]
    assert len(states) == len(set(taken)), (len(states), len(taken), receiver.timeline)
    assert len(receiver.seen) > len(receiver.taken)  # failed and hung ones were tried again
    _check_deliveries(receiver, finished)
    shown = subprocess.run(
        [*DIALER, "status", "test", "--json"],
        env=_env(store_url),
        capture_output=True,
        text=True,
        check=True,
    )
    delivery = json.loads(shown.stdout)["results_webhook"]
    assert delivery["delivered"] == len(set(taken))  # a re-delivered event counts once
    assert (delivery["pending"], delivery["dead"], delivery["oldest_pending_age_seconds"]) == (
        0,
        0,
        None,
    )
    assert delivery["last_error"] is None  # all delivered: no error stands


async def test_a_process_killed_mid_delivery_loses_nothing(store_url: str, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=300, seed=5, concurrency_limit=100)
    async with _receiving(failures=0) as (receiver, url):
        path = _campaign(tmp_path, 8, url)
        log = tmp_path / "processes.log"
        with run_simulator_in_thread(engine) as server:
            env = _env(store_url, RETELL_BASE_URL=server.url, RETELL_API_KEY="sim-key")
            killed = subprocess.Popen(
                [*DIALER, "run", str(path), *QUIET],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log.open("ab"),
            )
            deadline = time.monotonic() + 60
            while not receiver.hung and time.monotonic() < deadline:
                assert killed.poll() is None, log.read_text()[-3000:]
                await anyio.sleep(0.05)
            assert receiver.hung, log.read_text()[-3000:]
            killed.send_signal(signal.SIGKILL)  # mid-delivery: its event stays leased
            killed.wait(10)
            cut_off = receiver.hung[0]
            receiver.back.set()
            worker = subprocess.Popen(
                [*DIALER, "worker", "--speed", "300"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log.open("ab"),
            )
            try:
                finished, states = None, ["pending"]
                deadline = time.monotonic() + 90
                while (finished is None or set(states) != {"delivered"}) and (
                    time.monotonic() < deadline
                ):
                    assert worker.poll() is None, log.read_text()[-3000:]
                    await anyio.sleep(0.3)
                    finished = await _finished_leads(store_url)
                    states = await _outbox_states(store_url)
                assert finished is not None and set(states) == {"delivered"}, states
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
    assert cut_off in {e["event_id"] for e in receiver.taken}  # delivered again, after the lease
    _check_deliveries(receiver, finished)


def test_a_missing_secret_is_named_by_validate_and_refused_by_run(tmp_path: Path) -> None:
    path = _campaign(tmp_path, 1, "https://crm.example/results")
    env = {k: v for k, v in os.environ.items() if k != "CRM_SECRET"}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    checked = subprocess.run(
        [*DIALER, "validate", str(path)], env=env, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0
    assert (
        "warning: results_webhook.secret_env: the environment variable CRM_SECRET is not set"
        in (checked.stderr)
    )
    ran = subprocess.run(
        [*DIALER, "run", str(path), "--simulate", *QUIET],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 2
    (line,) = ran.stderr.strip().splitlines()
    assert line.endswith(
        "the environment variable CRM_SECRET is not set (the secret results are signed with)"
    )
    assert not (tmp_path / "store.db").exists()  # refused before anything was stored
