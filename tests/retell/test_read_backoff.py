"""Quiet while Retell is down: the client's reads of a failing endpoint back off together (at most
a few a second, whoever asks), come back at full speed on the first good answer, and say so in
one line each way. On trio's MockClock: virtual seconds, nothing waits on the real clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from trio.testing import MockClock

import dialer.retell.read_backoff as read_backoff_module
from dialer.domain.backoff import READ_BACKOFF_MAX, most_reads_per_second
from dialer.retell import RetellClient, RetellError
from dialer.retell.settings import ApiKey

pytestmark = pytest.mark.anyio

READERS = 20
EVERY = 0.1  # each reader asks this often: 200 reads a second while Retell answers
CALL = {"call_id": "c", "call_type": "phone_call", "agent_id": "a", "call_status": "ongoing"}


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


class _Events:
    def __init__(self) -> None:
        self.names: list[tuple[str, str]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.names.append((event, fields["endpoint"]))


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Events]:
    seen = _Events()
    monkeypatch.setattr(read_backoff_module, "log", seen)
    yield seen


class _Retell:
    """Answers get-call and list-calls, or 503 while `down` names the endpoint; counts."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.arrivals: list[tuple[float, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        endpoint = "list-calls" if request.url.path == "/v3/list-calls" else "get-call"
        self.arrivals.append((anyio.current_time(), endpoint))
        if endpoint in self.down:
            return httpx.Response(503, json={"message": "Service Unavailable"})
        if endpoint == "list-calls":
            return httpx.Response(200, json=[CALL])
        return httpx.Response(200, json=CALL)

    def count(self, endpoint: str, start: float, end: float) -> int:
        return sum(1 for at, e in self.arrivals if e == endpoint and start <= at < end)


def _client(retell: _Retell) -> RetellClient:
    # no read budget (aiolimiter runs on asyncio only) and no retries: each read is one request
    return RetellClient(
        ApiKey("k"),
        "https://retell.test",
        transport=httpx.MockTransport(retell),
        reads_per_second=None,
        read_attempts=1,
    )


async def _reader(client: RetellClient, endpoint: str, good: list[float]) -> None:
    while True:
        try:
            if endpoint == "get-call":
                await client.get_call("c")
            else:
                await client.calls_by_id(["c"])
            good.append(anyio.current_time())
        except RetellError:
            pass
        await anyio.sleep(EVERY)


async def test_a_failing_endpoint_is_read_a_few_times_a_second_then_at_once_again(
    events: _Events,
) -> None:
    retell = _Retell()
    good: list[float] = []
    async with _client(retell) as client, anyio.create_task_group() as group:
        for _ in range(READERS):
            group.start_soon(_reader, client, "get-call", good)
        await anyio.sleep(5)
        retell.down.add("get-call")  # up for 5 s, down from 5 s to 35 s, then up
        await anyio.sleep(30)
        retell.down.clear()
        await anyio.sleep(5)
        group.cancel_scope.cancel()
    before = retell.count("get-call", 0, 5) / 5
    during = retell.count("get-call", 8, 35) / 27  # after its first seconds
    after = retell.count("get-call", 36, 40) / 4
    assert before >= 0.9 * READERS / EVERY
    # whoever asks, a failing endpoint is read a few times a second, never not at all
    assert 1.5 <= during <= most_reads_per_second(), during
    # the first good answer lets every reader go at once: full speed again
    first_good = min(t for t in good if t >= 35)
    assert first_good <= 35 + READ_BACKOFF_MAX
    assert after >= 0.9 * READERS / EVERY
    assert events.names == [
        ("retell_reads_backing_off", "get-call"),
        ("retell_reads_answered", "get-call"),
    ]


async def test_one_endpoint_failing_does_not_slow_another(events: _Events) -> None:
    """list-calls down (as in a list-calls outage) leaves get-call, the fallback, at full speed."""
    retell = _Retell()
    retell.down.add("list-calls")
    good: list[float] = []
    async with _client(retell) as client, anyio.create_task_group() as group:
        for _ in range(READERS):
            group.start_soon(_reader, client, "get-call", good)
            group.start_soon(_reader, client, "list-calls", [])
        await anyio.sleep(10)
        group.cancel_scope.cancel()
        assert client.read_backoff.failures("list-calls") > 0
        assert client.read_backoff.failures("get-call") == 0
    assert retell.count("get-call", 0, 10) >= 0.9 * 10 * READERS / EVERY
    assert retell.count("list-calls", 2, 10) <= 8 * most_reads_per_second()
    assert events.names == [("retell_reads_backing_off", "list-calls")]


async def test_no_answer_at_all_backs_off_too(events: _Events) -> None:
    """Refused connections (and timeouts) count as failures, like a 5xx."""
    refused = {"now": True}
    arrivals: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        arrivals.append(anyio.current_time())
        if refused["now"]:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return httpx.Response(200, json=CALL)

    async with (
        RetellClient(
            ApiKey("k"),
            "https://retell.test",
            transport=httpx.MockTransport(handler),
            reads_per_second=None,
            read_attempts=1,
        ) as client,
        anyio.create_task_group() as group,
    ):
        for _ in range(READERS):
            group.start_soon(_reader, client, "get-call", [])
        await anyio.sleep(10)
        group.cancel_scope.cancel()
    assert sum(1 for t in arrivals if t >= 2) <= 8 * most_reads_per_second()
    assert events.names == [("retell_reads_backing_off", "get-call")]
