"""An async client for the Retell call API that classifies every create precisely.

A create that succeeds places a real phone call, so it is never retried here: its outcome is
`Placed`, `NotPlaced` (the answer proves no call exists), `Ambiguous` (a call may exist) or
`Fatal` (the account or key is refused). The runner decides what to do. Reads retry transient
faults with tenacity.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from dialer import __version__
from dialer.retell.models import Concurrency, CreateCallRequest, ListCallsPage, PhoneCall
from dialer.settings import ApiKey

CREATE_PATH = "/v2/create-phone-call"
_PERMANENT = frozenset({400, 404, 422})
_FATAL = frozenset({401, 402, 403})
_MAX_RETRY_AFTER = 300.0
# Told of every request: endpoint (create-phone-call, get-call, list-calls, …), seconds, and
# the error kind (an exception name or http_NNN) or None.
ApiObserver = Callable[[str, float, str | None], None]


class RetellError(Exception):
    """Base of the client's errors. Messages never contain the API key."""


class RetellTransportError(RetellError):
    """No usable answer: connection, timeout or protocol fault."""


class RetellStatusError(RetellError):
    """An error status from the API."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"Retell answered {status}: {message}")


@dataclass(frozen=True)
class Placed:
    """2xx: the call exists."""

    call: PhoneCall


@dataclass(frozen=True)
class NotPlaced:
    """The answer proves no call was made. `permanent`: the same request will fail again
    (400/404/422); otherwise it may be retried after `retry_after` seconds (429, refused)."""

    reason: str
    status: int | None = None
    permanent: bool = False
    retry_after: float | None = None


@dataclass(frozen=True)
class Ambiguous:
    """A call may or may not exist (timeout after sending, dropped connection, 5xx)."""

    reason: str
    status: int | None = None


@dataclass(frozen=True)
class Fatal:
    """401/402/403: the key or the account is refused; stop the campaign."""

    reason: str
    status: int


CreateOutcome = Placed | NotPlaced | Ambiguous | Fatal


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error_message", "error", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return json.dumps(body)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return min(_MAX_RETRY_AFTER, float(millis) / 1000)
        except ValueError:
            pass
    seconds = response.headers.get("retry-after")
    if seconds:
        try:
            return min(_MAX_RETRY_AFTER, float(seconds))
        except ValueError:
            return None
    return None


def classify_create_response(response: httpx.Response) -> CreateOutcome:
    """Map an HTTP answer to create-phone-call onto what it proves."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            return Placed(PhoneCall.model_validate(response.json()))
        except ValueError:
            # Retell said yes but the body is unreadable: a call probably exists.
            return Ambiguous("2xx with an unreadable body", status)
    message = _message(response)
    if status in _FATAL:
        return Fatal(message, status)
    if status in _PERMANENT:
        return NotPlaced(message, status, permanent=True)
    if status == 429:
        return NotPlaced(message, status, retry_after=_retry_after(response))
    return Ambiguous(message, status)  # 5xx, 408, 409 and anything unexpected


def classify_create_error(exc: httpx.HTTPError) -> CreateOutcome:
    """Map a transport fault onto what it proves about the call."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return NotPlaced(f"request not sent: {name}")
    return Ambiguous(f"no answer after sending: {name}")


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, RetellTransportError):
        return True
    return isinstance(exc, RetellStatusError) and (exc.status == 429 or exc.status >= 500)


class RetellClient:
    """One pooled connection set to Retell (or a simulator). Use as an async context manager."""

    def __init__(
        self,
        api_key: ApiKey,
        base_url: str,
        *,
        create_timeout: float = 30.0,
        read_timeout: float = 15.0,
        read_attempts: int = 3,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: ApiObserver | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {api_key.reveal()}",
                "User-Agent": f"dialer/{__version__}",
            },
            timeout=httpx.Timeout(read_timeout, connect=5.0),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )
        self._create_timeout = httpx.Timeout(create_timeout, connect=5.0)
        self._read_attempts = read_attempts
        self._observe = observe
        self.base_url = base_url

    def __repr__(self) -> str:
        return f"RetellClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> RetellClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def create_phone_call(self, request: CreateCallRequest) -> CreateOutcome:
        """POST /v2/create-phone-call, once. Never raises for HTTP or transport faults."""
        started = time.perf_counter()
        try:
            response = await self._client.post(
                CREATE_PATH, json=request.body(), timeout=self._create_timeout
            )
        except httpx.HTTPError as exc:
            self._observed("create-phone-call", started, exc)
            return classify_create_error(exc)
        self._observed("create-phone-call", started, response)
        return classify_create_response(response)

    def _observed(
        self, endpoint: str, started: float, outcome: httpx.Response | httpx.HTTPError
    ) -> None:
        """Tell the observer how a request went: its error kind, or None."""
        if self._observe is None:
            return
        if isinstance(outcome, httpx.Response):
            error = f"http_{outcome.status_code}" if outcome.is_error else None
        else:
            error = type(outcome).__name__
        self._observe(endpoint, time.perf_counter() - started, error)

    async def _read(self, method: str, path: str, **kwargs: Any) -> Any:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self._read_attempts),
            wait=wait_random_exponential(multiplier=0.2, max=4.0),
            reraise=True,
        ):
            with attempt:
                return await self._request_once(method, path, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request_once(self, method: str, path: str, **kwargs: Any) -> Any:
        endpoint = path.strip("/").split("/")[1 if path.startswith("/v") else 0]
        started = time.perf_counter()
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self._observed(endpoint, started, exc)
            raise RetellTransportError(f"{method} {path}: {type(exc).__name__}") from None
        self._observed(endpoint, started, response)
        if response.status_code >= 400:
            raise RetellStatusError(
                response.status_code, _message(response), _retry_after(response)
            )
        try:
            return response.json()
        except ValueError:
            raise RetellTransportError(f"{method} {path}: unreadable JSON body") from None

    async def get_call(self, call_id: str) -> PhoneCall:
        """GET /v2/get-call/{call_id}; transient faults are retried."""
        return PhoneCall.model_validate(await self._read("GET", f"/v2/get-call/{call_id}"))

    async def list_calls(
        self,
        filter_criteria: dict[str, Any] | None = None,
        *,
        limit: int = 1000,
        pagination_key: str | None = None,
        sort_order: str = "descending",
    ) -> ListCallsPage:
        """POST /v3/list-calls (one page)."""
        body: dict[str, Any] = {"limit": limit, "sort_order": sort_order}
        if filter_criteria:
            body["filter_criteria"] = filter_criteria
        if pagination_key:
            body["pagination_key"] = pagination_key
        return ListCallsPage.model_validate(await self._read("POST", "/v3/list-calls", json=body))

    async def find_calls_by_metadata(self, key: str, value: str) -> list[PhoneCall]:
        """Every call whose metadata[key] == value (how an ambiguous create is reconciled)."""
        criteria = {"metadata": [{"key": key, "op": "eq", "type": "string", "value": value}]}
        found: list[PhoneCall] = []
        page_key: str | None = None
        while True:
            page = await self.list_calls(criteria, pagination_key=page_key)
            found.extend(page.items)
            if not page.has_more or not page.pagination_key:
                return found
            page_key = page.pagination_key

    async def get_concurrency(self) -> Concurrency:
        """GET /get-concurrency."""
        return Concurrency.model_validate(await self._read("GET", "/get-concurrency"))
