"""The API's own answers conform to its OpenAPI document: schemathesis reads the document from
the running server (`/openapi.json`), generates requests for every operation (a bounded
number each, so this takes seconds) and valid ones made on purpose, and checks every answer:
no server error, a documented status, media type, headers and body."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dialer.dialing.clock import Clock
from dialer.http.api import ALLOWANCES, api_routes
from dialer.http.app import create_app
from dialer.http.server import Limits
from dialer.store import open_store

from ..helpers import numbers, serving

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
GENERATED = settings(
    max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
LEADS = "lead_id,to_number,first_name\n" + "".join(
    f"k{i},{n},Ann\n" for i, n in enumerate(numbers(12))
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server on an SQLite store (its loop on a thread of its own): (base URL, token)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('conformance') / 'store.db'}"
    with anyio.from_thread.start_blocking_portal() as portal:
        store = portal.call(open_store, url)
        token = portal.call(lambda: store.create_token("conformance", read_only=False))
        app = create_app(routes=api_routes(store, Clock().now))
        limits = replace(Limits(max_connections=32), allowances=ALLOWANCES)
        try:
            with portal.wrap_async_context_manager(serving(app, limits)) as port:
                yield f"http://127.0.0.1:{port}", token
        finally:
            portal.call(store.close)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _schema(base: str) -> Any:
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


def _seed(base: str, token: str) -> None:
    with httpx.Client(base_url=base, headers=_auth(token), timeout=30) as client:
        experiment = {
            "from_number": "+14155550100",
            "variants": [{"name": "A"}, {"name": "B", "agent_id": "agent_b"}],
            "goal": 'analysis.renewed == "yes"',
        }
        put = client.put("/v1/campaigns/spring", json=experiment)
        assert put.status_code in (200, 201), put.text
        added = client.post(
            "/v1/campaigns/spring/leads", content=LEADS, headers={"content-type": "text/csv"}
        )
        assert added.status_code == 200, added.text
        client.post("/v1/do-not-call", json={"numbers": ["+12125550100"]})


def test_generated_requests_get_answers_the_document_allows(served: tuple[str, str]) -> None:
    base, token = served
    _seed(base, token)
    schema = _schema(base)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @GENERATED
        @given(operation.as_strategy())
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), **_auth(token)}
            case.validate_response(case.call(base_url=base), checks=CHECKS)

        check()


def test_valid_requests_get_answers_the_document_allows(served: tuple[str, str]) -> None:
    base, token = served
    _seed(base, token)
    schema = _schema(base)

    def conforms(method: str, path: str, **case: Any) -> None:
        operation = schema[path][method]
        made = operation.Case(headers={**_auth(token), **case.pop("headers", {})}, **case)
        made.validate_response(made.call(base_url=base), checks=CHECKS)

    name = {"name": "spring"}
    conforms("GET", "/v1/campaigns")
    conforms("GET", "/v1/campaigns/{name}", path_parameters=name)
    conforms("GET", "/v1/campaigns/{name}", path_parameters={"name": "autumn"})  # 404
    conforms(
        "PUT",
        "/v1/campaigns/{name}",
        path_parameters=name,
        body={"from_number": "+14155550100", "pacing": {"calls_per_second": 2}},
        media_type="application/json",
    )
    conforms(
        "PUT",
        "/v1/campaigns/{name}",
        path_parameters=name,
        body={"from_number": "+14155550100", "retyr": {}},
        media_type="application/json",
    )  # 422
    conforms(
        "POST",
        "/v1/campaigns/{name}/leads",
        path_parameters=name,
        body=[{"to_number": "+12125550199", "lead_id": "json-1"}],
        media_type="application/json",
    )
    conforms(
        "POST",
        "/v1/campaigns/{name}/leads",
        path_parameters=name,
        body=[{"to_number": "nonsense"}],
        media_type="application/json",
    )  # 422
    for action in ("pause", "resume"):
        conforms("POST", f"/v1/campaigns/{{name}}/{action}", path_parameters=name)
    conforms("GET", "/v1/campaigns/{name}/results", path_parameters=name, query={"limit": 5})
    conforms("GET", "/v1/campaigns/{name}/export", path_parameters=name, query={"format": "jsonl"})
    conforms("GET", "/v1/campaigns/{name}/report", path_parameters=name)
    conforms("GET", "/v1/do-not-call")
    conforms("GET", "/v1/do-not-call/{number}", path_parameters={"number": "+12125550100"})
    conforms("DELETE", "/v1/do-not-call/{number}", path_parameters={"number": "+12125550100"})
    conforms("POST", "/v1/campaigns/{name}/cancel", path_parameters=name)
