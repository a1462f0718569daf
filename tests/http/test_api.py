"""The HTTP API through a real client (httpx) against a real server (uvicorn, as dialer serves
it), on both stores: tokens (none 401, read-only 403 on writes, revoked 401, never in the
log), a campaign put and steered, leads added and sent again, a bad CSV answered with every
problem and nothing stored, results page by page, the do-not-call list, problem details."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import anyio.to_thread
import httpx
import pytest
import structlog

from dialer.dialing.clock import Clock
from dialer.domain.variants import Variant, assign_variant
from dialer.http.api import ALLOWANCES, api_routes
from dialer.http.app import create_app
from dialer.http.server import Limits
from dialer.store import Store

from ..helpers import lead_rows, numbers, serving

pytestmark = pytest.mark.anyio
CAMPAIGN = {"from_number": "+14155550100", "pacing": {"calls_per_second": 2}}


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(routes=api_routes(store, Clock().now))
    limits = replace(Limits(max_connections=32), allowances=ALLOWANCES)
    async with (
        serving(app, limits) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _csv(rows: list[tuple[str, str]]) -> str:
    return "lead_id,to_number,first_name\n" + "".join(f"{k},{n},Lead {k}\n" for k, n in rows)


async def _problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["title"]
    return body


async def test_tokens_open_the_api_and_nothing_else_does(
    api: httpx.AsyncClient, store: Store
) -> None:
    writer = await store.create_token("crm", read_only=False)
    reader = await store.create_token("bi", read_only=True)
    with structlog.testing.capture_logs() as logged:
        none = await api.get("/v1/campaigns")
        problem = await _problem(none, 401)
        assert none.headers["www-authenticate"].startswith("Bearer")
        assert "dialer token create" in problem["detail"]
        await _problem(await api.get("/v1/campaigns", headers=_bearer("dlr_x.y")), 401)
        await _problem(await api.get("/v1/campaigns", headers={"Authorization": writer}), 401)
        assert (await api.get("/v1/campaigns", headers=_bearer(reader))).json() == {"campaigns": []}
        put = await api.put("/v1/campaigns/spring", json=CAMPAIGN, headers=_bearer(reader))
        assert "read-only" in (await _problem(put, 403))["detail"]
        put = await api.put("/v1/campaigns/spring", json=CAMPAIGN, headers=_bearer(writer))
        assert put.status_code == 201, put.text
        paused = await api.post("/v1/campaigns/spring/pause", headers=_bearer(reader))
        await _problem(paused, 403)
        assert await store.revoke_token("crm")
        revoked = await api.post("/v1/campaigns/spring/pause", headers=_bearer(writer))
        assert "revoked" in (await _problem(revoked, 401))["detail"]
    assert (await store.campaign("spring")).status == "active"  # type: ignore[union-attr]
    shown = json.dumps(logged)
    assert writer not in shown and writer.split(".")[1] not in shown and reader not in shown
    # the document and the probes stay open; the document says every route needs a token
    document = (await api.get("/openapi.json")).json()
    assert "/v1/campaigns/{name}/leads" in document["paths"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert (await api.get("/docs")).status_code == 200


async def test_a_campaign_put_fed_steered_and_read_page_by_page(
    api: httpx.AsyncClient, store: Store
) -> None:
    auth = _bearer(await store.create_token("crm", read_only=False))
    yaml_text = 'name: spring\nfrom_number: "+14155550100"\npacing: {max_concurrent_calls: 3}\n'
    put = await api.put(
        "/v1/campaigns/spring",
        content=yaml_text,
        headers={**auth, "content-type": "application/yaml"},
    )
    assert put.status_code == 201 and put.json()["campaign"]["max_concurrent_calls"] == 3
    again = await api.put(
        "/v1/campaigns/spring", content=yaml_text, headers={**auth, "content-type": "text/yaml"}
    )
    assert again.status_code == 200 and not again.json()["created"]  # put again: the same

    nums = numbers(30)
    first = _csv([(f"k{i}", n) for i, n in enumerate(nums[:20])])
    added = await api.post(
        "/v1/campaigns/spring/leads", content=first, headers={**auth, "content-type": "text/csv"}
    )
    assert added.status_code == 200, added.text
    assert added.json()["added"] == 20
    # sent again (a retry): nothing changes; with ten more as JSON: only they are added
    resent = await api.post(
        "/v1/campaigns/spring/leads", content=first, headers={**auth, "content-type": "text/csv"}
    )
    assert resent.json()["unchanged"] == 20 and resent.json()["added"] == 0
    more = [
        {"lead_id": f"k{i}", "to_number": n, "retell_llm_dynamic_variables": {"first_name": "J"}}
        for i, n in enumerate(nums[20:], start=20)
    ]
    json_added = await api.post("/v1/campaigns/spring/leads", json=more, headers=auth)
    assert json_added.json()["added"] == 10
    # a lead under a new key with a number the campaign has: a duplicate, not a new person
    dup = await api.post(
        "/v1/campaigns/spring/leads",
        json=[{"lead_id": "other", "to_number": nums[0]}],
        headers=auth,
    )
    assert dup.json()["duplicate"] == 1 and dup.json()["warnings"]
    rows = {row["lead_key"]: row for row in await lead_rows(store)}
    assert len(rows) == 31 and rows["other"]["skip_reason"] == "duplicate_of:k0"

    paused = await api.post("/v1/campaigns/spring/pause", headers=auth)
    assert paused.json()["status"] == "paused"
    assert (await api.post("/v1/campaigns/spring/pause", headers=auth)).status_code == 200
    resumed = await api.post("/v1/campaigns/spring/resume", headers=auth)
    assert resumed.json()["status"] == "active" and "no process is serving" in resumed.text
    read = (await api.get("/v1/campaigns/spring", headers=auth)).json()
    assert read["leads"] == {"pending": 30, "skipped": 1} and read["settings"]["name"] == "spring"

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 8, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/campaigns/spring/results", params=params, headers=auth)).json()
        seen += [item["lead_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"k{i}" for i in range(30)] + ["other"]
    skipped = await api.get(
        "/v1/campaigns/spring/results", params={"state": "skipped"}, headers=auth
    )
    assert [item["lead_id"] for item in skipped.json()["items"]] == ["other"]
    await _problem(
        await api.get("/v1/campaigns/spring/results", params={"state": "gone"}, headers=auth), 422
    )
    export = await api.get("/v1/campaigns/spring/export", params={"format": "jsonl"}, headers=auth)
    assert len(export.text.splitlines()) == 31
    assert json.loads(export.text.splitlines()[0])["lead_id"] == "k0"
    report = await api.get("/v1/campaigns/spring/report", headers=auth)
    assert report.headers["content-type"].startswith("text/html") and "spring" in report.text

    cancelled = await api.post("/v1/campaigns/spring/cancel", headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    refused = await api.post("/v1/campaigns/spring/resume", headers=auth)
    await _problem(refused, 409)
    late = await api.post("/v1/campaigns/spring/leads", json=more, headers=auth)
    assert "cancelled" in (await _problem(late, 409))["detail"]
    await _problem(await api.get("/v1/campaigns/autumn", headers=auth), 404)
    await _problem(await api.post("/v1/campaigns/autumn/pause", headers=auth), 404)


async def test_a_bad_csv_is_answered_with_every_problem_and_nothing_is_stored(
    api: httpx.AsyncClient, store: Store
) -> None:
    auth = _bearer(await store.create_token("crm", read_only=False))
    assert (await api.put("/v1/campaigns/spring", json=CAMPAIGN, headers=auth)).status_code == 201
    nums = numbers(3)
    bad = (
        "lead_id,to_number,timezone,first_name\n"
        f"a,{nums[0]},,Ann\n"
        "b,not a number,,Bob\n"
        f"c,{nums[1]},Mars/Olympus,Cy\n"
        f"d,{nums[0]},,Dup\n"
        "e,+1900555012,,Premium\n"
        f"f,{nums[2]}\n"
    )
    answer = await api.post(
        "/v1/campaigns/spring/leads", content=bad, headers={**auth, "content-type": "text/csv"}
    )
    body = await _problem(answer, 422)
    found = [(p["row"], p["field"]) for p in body["problems"]]
    assert found == [
        (3, "to_number"),
        (4, "timezone"),
        (5, "to_number"),
        (6, "to_number"),
        (7, ""),
    ], body
    assert "nothing was stored" in body["detail"]
    assert await lead_rows(store) == []
    # the same for JSON: items counted from 1, every field named
    items = [{"to_number": nums[0]}, {"to_number": nums[1], "colour": "red"}, ["x"]]
    body = await _problem(
        await api.post("/v1/campaigns/spring/leads", json=items, headers=auth), 422
    )
    assert [(p["row"], p["field"]) for p in body["problems"]] == [(2, "colour"), (3, "")]
    assert await lead_rows(store) == []
    # bodies that are no lead list at all
    for content, kind in [
        (b"\xff\xfe", "text/csv"),
        (b"{", "application/json"),
        (b"{}", "application/json"),
    ]:
        await _problem(
            await api.post(
                "/v1/campaigns/spring/leads",
                content=content,
                headers={**auth, "content-type": kind},
            ),
            422,
        )
    wrong = await api.post(
        "/v1/campaigns/spring/leads", content="x", headers={**auth, "content-type": "text/plain"}
    )
    assert "text/csv" in (await _problem(wrong, 415))["detail"]
    await _problem(
        await api.put(
            "/v1/campaigns/spring",
            json={**CAMPAIGN, "pacing": {"calls_per_second": -1}},
            headers=auth,
        ),
        422,
    )
    typo = await api.put("/v1/campaigns/spring", json={**CAMPAIGN, "retyr": {}}, headers=auth)
    assert "did you mean 'retry'" in (await _problem(typo, 422))["problems"][0]["message"]
    steps = [{"then": "complete"}, {"when": {"outcome": "busy"}, "then": {"skip": "busy"}}]
    shadowed = await api.put(
        "/v1/campaigns/spring", json={**CAMPAIGN, "steps": steps}, headers=auth
    )
    (problem,) = (await _problem(shadowed, 422))["problems"]
    assert problem["field"] == "steps.1.when" and problem["message"].startswith("unreachable")
    assert await lead_rows(store) == []


async def test_the_do_not_call_list_over_the_api(api: httpx.AsyncClient, store: Store) -> None:
    auth = _bearer(await store.create_token("crm", read_only=False))
    reader = _bearer(await store.create_token("bi", read_only=True))
    body = {"numbers": ["+12125550101", "(212) 555-0102"], "region": "US", "reason": "revoked"}
    added = await api.post("/v1/do-not-call", json=body, headers=auth)
    assert added.json() == {"added": 2, "numbers": ["+12125550101", "+12125550102"]}
    assert (await api.post("/v1/do-not-call", json=body, headers=auth)).json()["added"] == 0
    await _problem(await api.post("/v1/do-not-call", json=body, headers=reader), 403)
    bad = await api.post("/v1/do-not-call", json={"numbers": ["+1212", "x"]}, headers=auth)
    assert [p["row"] for p in (await _problem(bad, 422))["problems"]] == [1, 2]
    entry = await api.get("/v1/do-not-call/+12125550102", headers=reader)
    assert entry.json()["reason"] == "revoked" and entry.json()["source"] == "api token crm"
    page = await api.get("/v1/do-not-call", params={"limit": 1}, headers=reader)
    assert page.json()["next_cursor"] == "+12125550101"
    removed = await api.delete("/v1/do-not-call/+12125550102", headers=auth)
    assert removed.json()["removed"] is True
    again = await api.delete("/v1/do-not-call/+12125550102", headers=auth)
    assert again.status_code == 200 and again.json()["removed"] is False
    await _problem(await api.get("/v1/do-not-call/+12125550102", headers=reader), 404)


async def test_bodies_are_limited_by_route(api: httpx.AsyncClient, store: Store) -> None:
    auth = _bearer(await store.create_token("crm", read_only=False))
    assert (await api.put("/v1/campaigns/spring", json=CAMPAIGN, headers=auth)).status_code == 201
    wide = "x" * 600
    nums = numbers(2000)
    big_csv = "to_number,note\n" + "".join(f"{n},{wide}\n" for n in nums)
    assert len(big_csv) > 1 << 20  # past the listener's limit for every other route
    added = await api.post(
        "/v1/campaigns/spring/leads", content=big_csv, headers={**auth, "content-type": "text/csv"}
    )
    assert added.status_code == 200 and added.json()["added"] == 2000, added.text[:300]
    big_json = json.dumps([{"to_number": n, "note": "y" * 5000} for n in numbers(1700, 5000)])
    assert len(big_json) > 8 << 20
    refused = await api.post(
        "/v1/campaigns/spring/leads",
        content=big_json,
        headers={**auth, "content-type": "application/json"},
    )
    assert "send it as CSV" in (await _problem(refused, 413))["detail"]
    # a campaign past the listener's limit: refused from its head, before the body is sent
    port = int(str(api.base_url).rstrip("/").rsplit(":", 1)[1])

    def head_only() -> bytes:  # (the server runs on this test's loop: send from a thread)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(
                b"PUT /v1/campaigns/spring HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
            )
            return raw.recv(100)

    assert (await anyio.to_thread.run_sync(head_only)).startswith(b"HTTP/1.1 413 ")
    assert len(await lead_rows(store)) == 2000


async def test_a_finished_campaign_given_leads_is_active_again(
    api: httpx.AsyncClient, store: Store
) -> None:
    auth = _bearer(await store.create_token("crm", read_only=False))
    assert (await api.put("/v1/campaigns/spring", json=CAMPAIGN, headers=auth)).status_code == 201
    row = await store.campaign("spring")
    assert row is not None
    assert await store.finish_if_done(row.id)  # no lead yet: done
    same = await api.put("/v1/campaigns/spring", json=CAMPAIGN, headers=auth)
    assert same.json()["campaign"]["status"] == "finished"  # new settings alone: still done
    added = await api.post(
        "/v1/campaigns/spring/leads", json=[{"to_number": numbers(1)[0]}], headers=auth
    )
    assert added.json()["added"] == 1
    assert (await api.get("/v1/campaigns/spring", headers=auth)).json()["status"] == "active"


async def test_the_campaign_read_carries_its_experiment(
    api: httpx.AsyncClient, store: Store
) -> None:
    auth = _bearer(await store.create_token("crm", read_only=True))
    writer = _bearer(await store.create_token("ops", read_only=False))
    body = {
        **CAMPAIGN,
        "variants": [{"name": "A", "weight": 1}, {"name": "B", "agent_id": "agent_b"}],
        "goal": "analysis.plan in [plus, premium]",
    }
    assert (await api.put("/v1/campaigns/trial", json=body, headers=writer)).status_code == 201
    rows = [(f"k{i}", n) for i, n in enumerate(numbers(8))]
    await api.post(
        "/v1/campaigns/trial/leads",
        content=_csv(rows),
        headers={**writer, "content-type": "text/csv"},
    )
    read = (await api.get("/v1/campaigns/trial", headers=auth)).json()
    experiment = read["experiment"]
    assert experiment["goal"] == 'analysis.plan in ["plus", "premium"]'
    assert [v["name"] for v in experiment["variants"]] == ["A", "B"]
    assert sum(v["funnel"]["leads"]["count"] for v in experiment["variants"]) == 8
    assert experiment["verdict"].startswith("Too few data to compare yet")
    assert experiment["comparisons"] == []  # nothing dialed: nothing to compare
    arms = [Variant.model_validate(v) for v in body["variants"]]
    results = (await api.get("/v1/campaigns/trial/results", headers=auth)).json()["items"]
    assert [item["variant"] for item in results] == [
        assign_variant("trial", key, arms).name  # type: ignore[union-attr]
        for key, _ in rows
    ]  # not dialed yet: each its assigned arm, as the experiment counts it
    plain = {**CAMPAIGN}
    assert (await api.put("/v1/campaigns/plain", json=plain, headers=writer)).status_code == 201
    assert (await api.get("/v1/campaigns/plain", headers=auth)).json()["experiment"] is None


async def test_a_campaign_with_a_results_webhook_reads_its_deliveries(
    api: httpx.AsyncClient, store: Store
) -> None:
    writer = _bearer(await store.create_token("crm", read_only=False))
    hook = {"url": "https://crm.example/results", "secret_env": "CRM_SECRET"}
    bad = {**CAMPAIGN, "results_webhook": {**hook, "events": ["lead_called"]}}
    problem = await _problem(await api.put("/v1/campaigns/hooked", json=bad, headers=writer), 422)
    assert "results_webhook.events" in json.dumps(problem["problems"])
    body = {**CAMPAIGN, "results_webhook": hook}
    assert (await api.put("/v1/campaigns/hooked", json=body, headers=writer)).status_code == 201
    assert (await api.put("/v1/campaigns/plain", json=CAMPAIGN, headers=writer)).status_code == 201
    hooked = (await api.get("/v1/campaigns/hooked", headers=writer)).json()
    assert hooked["results_webhook"] == {
        "pending": 0,
        "delivered": 0,
        "dead": 0,
        "oldest_pending_age_seconds": None,
        "last_error": None,
    }
    assert hooked["settings"]["results_webhook"]["secret_env"] == "CRM_SECRET"
    assert (await api.get("/v1/campaigns/plain", headers=writer)).json()["results_webhook"] is None
