"""Every answer Retell's own schemas allow is read, and every broken variant of one is a
RetellError (a read fault the caller retries), never another exception. Bodies are generated
from `V2CallResponse` (get-call) and the list-calls answer (`V3CallResponse` items), then
broken: not JSON, an HTML page, truncated, not an object, a required field missing, a field of
the wrong type."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.retell import ListCallsPage, PhoneCall, RetellClient, RetellError
from dialer.retell.settings import ApiKey

from ..openapi import bodies, resolve, response_schema, schemas

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _phone_call_schema() -> dict[str, Any]:
    """get-call's answer, as far as a phone call goes (dialer places no web calls)."""
    return resolve({"$ref": "#/components/schemas/V2PhoneCallResponse"})


def _list_schema() -> dict[str, Any]:
    answer = response_schema("/v3/list-calls", "post")
    phone = {"$ref": "#/components/schemas/V3PhoneCallResponse"}
    page = resolve(answer["allOf"][0])
    return {
        "type": "object",
        "properties": {
            **page["properties"],
            "items": {"type": "array", "items": phone},
            "total": {"type": "integer"},
        },
        "required": ["items"],
    }


async def _read(content: bytes, read: str) -> object:
    """What the client makes of `content` as the answer to get-call or list-calls."""
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, content=content))
    async with RetellClient(ApiKey("k"), "http://retell.test", transport=transport) as client:
        if read == "get-call":
            return await client.get_call("call_1")
        return await client.list_calls({"call_id": {"type": "enum", "op": "in", "value": ["x"]}})


def _run(content: bytes, read: str) -> object:
    return anyio.run(_read, content, read)


@st.composite
def _broken(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> bytes:
    body = draw(valid)
    text = json.dumps(body)
    kind = draw(st.sampled_from(["html", "truncated", "list", "scalar", "drop", "retype"]))
    if kind == "html":
        return b"<html><body>502 Bad Gateway</body></html>"
    if kind == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()
    if kind == "list":
        return json.dumps([body]).encode()
    if kind == "scalar":
        return json.dumps(draw(st.one_of(st.none(), st.integers(), st.text()))).encode()
    if not body:
        return b"{}"
    key = draw(st.sampled_from(sorted(body)))
    if kind == "drop":
        body = {k: v for k, v in body.items() if k != key}
    else:
        body = {**body, key: draw(st.one_of(st.integers(), st.lists(st.none(), max_size=1)))}
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def call_bodies() -> st.SearchStrategy[Any]:
    schemas()  # skips when the document is absent
    return bodies(_phone_call_schema())


@pytest.fixture(scope="module")
def list_bodies() -> st.SearchStrategy[Any]:
    schemas()
    return bodies(_list_schema())


def test_every_call_retells_schema_allows_is_read(call_bodies: st.SearchStrategy[Any]) -> None:
    @FUZZ
    @given(call_bodies)
    def check(body: dict[str, Any]) -> None:
        call = _run(json.dumps(body).encode(), "get-call")
        assert isinstance(call, PhoneCall)
        assert call.call_id == body["call_id"] and call.call_status == body["call_status"]

    check()


def test_every_list_page_retells_schema_allows_is_read(list_bodies: st.SearchStrategy[Any]) -> None:
    @FUZZ
    @given(list_bodies)
    def check(body: dict[str, Any]) -> None:
        page = _run(json.dumps(body).encode(), "list-calls")
        assert isinstance(page, ListCallsPage) and len(page.items) == len(body["items"])

    check()


@pytest.mark.parametrize("read", ["get-call", "list-calls"])
def test_a_broken_answer_is_a_read_fault_never_a_crash(
    read: str, call_bodies: st.SearchStrategy[Any], list_bodies: st.SearchStrategy[Any]
) -> None:
    valid = call_bodies if read == "get-call" else list_bodies

    @FUZZ
    @given(_broken(valid))
    def check(content: bytes) -> None:
        with contextlib.suppress(RetellError):  # a read fault: the caller reads again later
            _run(content, read)

    check()
