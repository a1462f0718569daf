"""The one app every listener serves: which routes each part brings, the optional token on
the dashboard and /metrics (probes stay open), the dashboard's one-time `?token=` that turns
into a session cookie, and routes mounted ahead of the webhook catch-all."""

from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from dialer.http.app import SESSION_COOKIE, Monitoring, Webhooks, create_app
from dialer.retell.webhooks import SIGNATURE_HEADER, CallEvent, sign

from ..browser import chromium, load
from ..helpers import serving

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-token-for-tests"
KEY = "sim-key"
CAMPAIGNS = [{"name": "spring", "status": "running"}]


async def _healthy() -> tuple[bool, dict[str, object]]:
    return True, {"store": "ok"}


async def _unhealthy() -> tuple[bool, dict[str, object]]:
    return False, {"store": "down for 3 s"}


async def _campaigns() -> list[dict[str, object]]:
    return list(CAMPAIGNS)


MONITORING = Monitoring(_healthy, _unhealthy, _campaigns)


async def _nothing(_: CallEvent) -> None:
    return None


async def test_without_a_token_everything_is_open() -> None:
    async with (
        serving(create_app(monitoring=MONITORING)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        assert (await client.get("/healthz")).json() == {"ok": True, "store": "ok"}
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["ok"]) == (503, False)
        assert "dialer_store_up" in (await client.get("/metrics")).text
        assert (await client.get("/status.json")).json() == CAMPAIGNS
        page = await client.get("/")
        assert page.status_code == 200 and "<title>dialer</title>" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert (await client.post("/")).status_code == 405  # no webhooks on this listener
        assert (await client.get("/nowhere")).status_code == 404


async def test_a_token_guards_the_dashboard_and_metrics_but_not_the_probes() -> None:
    async with (
        serving(create_app(monitoring=MONITORING, token=TOKEN)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        for path in ("/metrics", "/status.json", "/"):
            refused = await client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"].startswith("Bearer")
            wrong = await client.get(path, headers={"Authorization": "Bearer not-it"})
            assert wrong.status_code == 401, path
            right = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert right.status_code == 200, path
            assert TOKEN not in right.text + refused.text + str(right.headers)
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503  # open, and honest


async def test_the_dashboard_takes_its_token_once_and_keeps_a_session_cookie() -> None:
    async with (
        serving(create_app(monitoring=MONITORING, token=TOKEN)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        assert (await client.get("/?token=not-it")).status_code == 401
        assert SESSION_COOKIE not in client.cookies
        sent_on = await client.get(f"/?token={TOKEN}")
        assert (sent_on.status_code, sent_on.headers["location"]) == (303, "./")
        cookie = sent_on.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        assert TOKEN not in cookie  # derived from the token, not the token
        page = await client.get("/")  # the address no longer carries the token
        assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
        assert (await client.get("/status.json")).json() == CAMPAIGNS
        assert (await client.get("/metrics")).status_code == 401  # scrapers send the token


async def test_one_port_serves_everything_and_mounted_routes_come_first() -> None:
    async def ping(_: Request) -> Response:
        return PlainTextResponse("pong")

    received: list[CallEvent] = []

    async def record(event: CallEvent) -> None:
        received.append(event)

    app = create_app(
        monitoring=MONITORING,
        webhooks=Webhooks(KEY, record),
        token=TOKEN,
        routes=[Mount("/v1", routes=[Route("/ping", ping)])],
    )
    body = json.dumps({"event": "call_ended", "call": {"call_id": "c9", "call_status": "ended"}})
    signed = {SIGNATURE_HEADER: sign(body, KEY, int(time.time() * 1000))}
    async with (
        serving(app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        assert (await client.get("/v1/ping")).text == "pong"
        assert (await client.post("/v1/ping", content=body, headers=signed)).status_code == 405
        assert (await client.get("/v1/nothing")).status_code == 404
        assert (await client.post("/", content=body)).status_code == 401  # unsigned event
        assert (await client.post("/retell", content=body, headers=signed)).status_code == 204
        assert (await client.post("/", content=body, headers=signed)).status_code == 204
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/elsewhere")).status_code == 404
    assert [e.call.call_id for e in received] == ["c9", "c9"]


async def test_a_webhook_listener_shows_nothing_else() -> None:
    async with (
        serving(create_app(webhooks=Webhooks(KEY, _nothing))) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        for path in ("/", "/metrics", "/status.json", "/healthz"):
            assert (await client.get(path)).status_code == 404, path


@pytest.mark.slow
async def test_the_dashboard_in_a_browser_with_its_token() -> None:
    """Headless chromium: without the token the page says so; opened once with `?token=`,
    it shows the campaigns from /status.json through its session cookie, console clean."""
    chromium()  # skips without a browser
    campaign = {
        "name": "spring",
        "status": "running",
        "status_reason": None,
        "leads": {"pending": 3, "completed": 7},
        "active_calls": 2,
        "max_concurrent_calls": 5,
        "dials_last_minute": 12,
        "spend_usd": 1.5,
        "attempts": 9,
        "calls_by_reason": {"user_hangup": 7},
        "requests_by_outcome": {"placed": 9},
    }

    async def campaigns() -> list[dict[str, object]]:
        return [campaign]

    app = create_app(monitoring=Monitoring(_healthy, _healthy, campaigns), token=TOKEN)
    async with serving(app) as port:
        base = f"http://127.0.0.1:{port}/"
        refused, _ = await anyio.to_thread.run_sync(lambda: load(base, wait_ms=1000))
        assert "unauthorized" in refused and 'data-campaign="spring"' not in refused
        dom, console = await anyio.to_thread.run_sync(
            lambda: load(f"{base}?token={TOKEN}", wait_ms=3000, screenshot="dashboard-token.png")
        )
    assert console == [], console
    assert 'data-campaign="spring"' in dom and 'class="done">7 / 10<' in dom
