"""The results pusher against a real store (both kinds) and a mock transport: a 2xx is
delivered with a body `verify` accepts, anything else is tried again later with its error, a
missing secret sends nothing and says which variable, and each outcome is counted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import httpx
import pytest
import structlog
from sqlalchemy import update

from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.results_push import verify
from dialer.domain.states import LeadState
from dialer.inputs.campaign_file import read_campaign_file
from dialer.observability.metrics import METRICS
from dialer.operations.loading import import_campaign
from dialer.reporting.export import ATTEMPT_FIELDS, LEAD_FIELDS
from dialer.reporting.results_push import ResultsPusher
from dialer.store import ClaimRequest, Store
from dialer.store.schema import campaigns

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio
SECRET = "s3cret"


async def _one_finished_lead(store: Store, tmp_path: Path, name: str = "pushed") -> int:
    hook = {"results_webhook": {"url": f"http://{name}.test/r", "secret_env": "CRM_SECRET"}}
    (tmp_path / name).mkdir()
    path = write_campaign(tmp_path / name, numbers(1), name=name, extra=hook)
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=5), 5, 30)
    (attempt,) = (await store.claim(campaign_id, "w", request)).attempts
    assert await store.record_placed(attempt, "w", f"call-{name}", "ongoing", 30)
    end = CallEnd(f"call-{name}", "ended", "user_hangup")
    await store.record_call_end(attempt, "w", Decision(LeadState.COMPLETED), end)
    return campaign_id


def _counted(outcome: str) -> float:
    value = METRICS.results_pushed.labels(campaign="pushed", outcome=outcome)._value.get()
    return float(value)


async def test_a_2xx_delivers_a_signed_body_in_order(store: Store, tmp_path: Path) -> None:
    campaign_id = await _one_finished_lead(store, tmp_path)
    got: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        got.append(request)
        return httpx.Response(204)

    before = _counted("delivered")
    pusher = ResultsPusher(
        store, "p", environ={"CRM_SECRET": SECRET}, transport=httpx.MockTransport(answer)
    )
    assert await pusher.drain(campaign_id, 10) == 0
    assert [json.loads(r.content)["event"] for r in got] == ["attempt_ended", "lead_finished"]
    first = got[0]
    body = json.loads(first.content)
    assert first.headers["x-dialer-event-id"] == body["event_id"]
    assert first.headers["content-type"] == "application/json"
    assert verify(
        first.content, SECRET, first.headers["x-dialer-signature"], int(time.time() * 1e3)
    )
    assert set(body) == {"event_id", "event", "campaign", "event_at", *ATTEMPT_FIELDS}
    assert _counted("delivered") == before + 2
    delivery = (await store.results_delivery([campaign_id]))[campaign_id]
    assert (delivery.delivered, delivery.pending) == (2, 0)


async def test_a_refusal_is_tried_again_later_with_its_error(store: Store, tmp_path: Path) -> None:
    campaign_id = await _one_finished_lead(store, tmp_path)
    before = _counted("failed")
    pusher = ResultsPusher(
        store,
        "p",
        environ={"CRM_SECRET": SECRET},
        transport=httpx.MockTransport(lambda _: httpx.Response(500)),
    )
    assert await pusher.drain(campaign_id, 0.5) == 2  # the first waits its backoff, the second it
    delivery = (await store.results_delivery([campaign_id]))[campaign_id]
    assert (delivery.pending, delivery.last_error) == (2, "HTTP 500")
    assert _counted("failed") >= before + 1


async def test_a_missing_secret_sends_nothing_and_names_the_variable(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _one_finished_lead(store, tmp_path)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    pusher = ResultsPusher(store, "p", environ={}, transport=httpx.MockTransport(answer))
    with structlog.testing.capture_logs() as logged:
        assert await pusher.drain(campaign_id, 0.5) == 2
    assert sent == []
    delivery = (await store.results_delivery([campaign_id]))[campaign_id]
    assert delivery.last_error == "CRM_SECRET is not set in the delivering process"
    told = [e for e in logged if e["event"] == "results_secret_unset"]
    assert len(told) == 1 and told[0]["variable"] == "CRM_SECRET"


async def test_a_process_without_the_secret_says_so_when_it_starts(
    store: Store, tmp_path: Path
) -> None:
    await _one_finished_lead(store, tmp_path)  # its campaign is still active
    # idle long after its first rounds, so that the cut below lands in its sleep, not in the
    # middle of a claim (a claim on SQLite cut mid-statement once hung the loop's teardown)
    pusher = ResultsPusher(store, "p", environ={}, idle_seconds=30)
    with structlog.testing.capture_logs() as logged, anyio.move_on_after(1.5):
        await pusher.run()
    told = [e for e in logged if e["event"] == "results_secret_unset"]
    assert [(e["campaign"], e["variable"]) for e in told] == [("pushed", "CRM_SECRET")]


async def test_events_of_a_campaign_that_dropped_its_webhook_are_not_sent(
    store: Store, tmp_path: Path
) -> None:
    campaign_id = await _one_finished_lead(store, tmp_path)
    row = await store.campaign(campaign_id)
    assert row is not None
    async with store.transaction() as conn:
        config = {k: v for k, v in row.config.items() if k != "results_webhook"}
        await conn.execute(update(campaigns).values(config=config))
    sent: list[httpx.Request] = []
    pusher = ResultsPusher(
        store,
        "p",
        environ={"CRM_SECRET": SECRET},
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)),
    )
    assert await pusher.drain(campaign_id, 0.5) == 2
    assert sent == []
    delivery = (await store.results_delivery([campaign_id]))[campaign_id]
    assert delivery.last_error == "the campaign has no results_webhook any more"


async def test_an_event_that_cannot_be_sent_fails_alone(store: Store, tmp_path: Path) -> None:
    """A URL httpx refuses at send (stored before such URLs were refused when read), or any
    error sending one event, is that event's failure with its error, and other campaigns'
    events claimed in the same round are delivered (it once broke every round)."""
    broken = await _one_finished_lead(store, tmp_path, "broken")
    fine = await _one_finished_lead(store, tmp_path, "fine")
    row = await store.campaign(broken)
    assert row is not None
    hook = {**row.config["results_webhook"], "url": "http://[::1/x"}
    async with store.transaction() as conn:
        await conn.execute(
            update(campaigns)
            .where(campaigns.c.id == broken)
            .values(config={**row.config, "results_webhook": hook})
        )
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "fine.test":
            sent.append(json.loads(request.content)["event"])
            return httpx.Response(200)
        raise RuntimeError("a transport that breaks")

    pusher = ResultsPusher(
        store,
        "p",
        environ={"CRM_SECRET": SECRET},
        idle_seconds=0.05,
        transport=httpx.MockTransport(answer),
    )
    async with pusher._client() as client:
        with anyio.move_on_after(2):
            while (await store.results_delivery([fine]))[fine].pending:
                await pusher._round(client, None)
    assert sent == ["attempt_ended", "lead_finished"]
    failed = (await store.results_delivery([broken]))[broken]
    assert failed.pending == 2 and failed.last_error is not None
    assert failed.last_error.startswith("InvalidURL")


def test_the_readme_s_example_body_has_every_field_in_order() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split('```json\n{"event_id"', 1)[1].split("```", 1)[0]
    body = json.loads('{"event_id"' + example)
    assert list(body) == ["event_id", "event", "campaign", "event_at", *LEAD_FIELDS]
