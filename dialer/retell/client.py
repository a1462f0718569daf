"""An async client for the Retell call API that classifies every create precisely.

A create that succeeds places a real phone call, so it is never retried here: its outcome is
`Placed`, `NotPlaced` (the answer proves no call exists), `Ambiguous` (a call may exist) or
`Fatal` (the account or key is refused). The runner decides what to do. Reads retry transient
faults with tenacity.

The client also knows whether Retell can be reached at all: a connection that cannot be made
(refused, DNS, TLS, connect timeout) on any request marks it unreachable, any answer marks it
reachable again, with one log line at each change. Claim loops wait while it is unreachable.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
import structlog
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from dialer import __version__
from dialer.retell.models import (
    Agent,
    ApiKeyInfo,
    Concurrency,
    ConversationFlow,
    CreateCallRequest,
    ListCallsPage,
    PhoneCall,
    PhoneNumber,
    RetellLlm,
)
from dialer.retell.settings import ApiKey

log = structlog.get_logger("dialer.retell")

CREATE_PATH = "/v2/create-phone-call"
MAX_PAGE = 1000  # list-calls' largest page
DEFAULT_READS_PER_SECOND = 10.0
_PERMANENT = frozenset({400, 404, 422})
_FATAL = frozenset({401, 402, 403})
_MAX_RETRY_AFTER = 300.0
_BODY_SHOWN = 200  # characters of a malformed body that errors and logs show
# `dialer run` gives up at start when Retell gives no answer at all within this long (reads'
# own retries included), so a wrong RETELL_BASE_URL is one line well within 30 s.
START_CHECK_SECONDS = 20.0
# Faults that prove no connection was made: Retell cannot be reached (no request was sent).
_NO_CONNECTION = (httpx.ConnectError, httpx.ConnectTimeout)
# Told of every request: endpoint (create-phone-call, get-call, list-calls, …), seconds, and
# the error kind (an exception name or http_NNN) or None.
ApiObserver = Callable[[str, float, str | None], None]


class RetellError(Exception):
    """Base of the client's errors. Messages never contain the API key."""


class RetellTransportError(RetellError):
    """No usable answer: connection, timeout or protocol fault. `cause` says which."""

    def __init__(self, message: str, cause: str) -> None:
        self.cause = cause
        super().__init__(message)


class RetellUnreachableError(RetellError):
    """Retell gave no answer at all at start (refused, DNS, TLS, timeout): nothing was sent."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"cannot reach Retell at {url}: {cause}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it, down to the root."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def transport_cause(exc: httpx.HTTPError) -> str:
    """A transport fault in words a person can act on: `connection refused`, `DNS lookup
    failed: Name or service not known`, `TLS failed: CERTIFICATE_VERIFY_FAILED`, …"""
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    for link in reversed(list(_causes(exc))):  # the root cause first
        if isinstance(link, ssl.SSLError):
            why = getattr(link, "verify_message", None) or link.reason or link.strerror
            return f"TLS failed: {why}"
        if isinstance(link, socket.gaierror):
            return f"DNS lookup failed: {link.strerror}"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def shown_base_url(url: str) -> str:
    """A base URL as messages show it: without a password, should it carry one."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    hidden = "***"
    return str(parsed.copy_with(password=hidden)) if parsed.password else url


class RetellBodyError(RetellError):
    """An answer that does not have the API's shape (not JSON, not an object, a missing field,
    a wrong type): a read fault, never a crash. Carries the endpoint and a truncated body."""

    def __init__(self, endpoint: str, problem: str, body: str) -> None:
        self.endpoint = endpoint
        self.body = body[:_BODY_SHOWN]
        super().__init__(f"{endpoint}: {problem}; body: {self.body!r}")


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


_Model = TypeVar("_Model", bound=BaseModel)


def _endpoint(path: str) -> str:
    """`get-call` for /v2/get-call/{id}, `list-calls` for /v3/list-calls, …"""
    return path.strip("/").split("/")[1 if path.startswith("/v") else 0]


class _Recovery:
    """Which endpoints are failing now, and who waits for them to answer again. The first
    answer after a fault (any answer but a 5xx, a 429 or none at all) wakes every waiter, so
    backoffs taken during an outage end the moment Retell is back."""

    def __init__(self) -> None:
        self._failing: set[str] = set()
        self._waiters: dict[str, anyio.Event] = {}

    def observe(self, endpoint: str, status: int | None) -> None:
        if status is None or status == 429 or status >= 500:
            self._failing.add(endpoint)
            return
        if endpoint in self._failing:
            self._failing.discard(endpoint)
            waiters = self._waiters.pop(endpoint, None)
            if waiters is not None:
                waiters.set()

    async def wait(self, endpoint: str, seconds: float) -> bool:
        """Sleep `seconds`, or until `endpoint` answers again; True if it did."""
        event = self._waiters.setdefault(endpoint, anyio.Event())
        with anyio.move_on_after(seconds):
            await event.wait()
            return True
        return False


class _Reachability:
    """Whether a connection to Retell can be made, with one log line when that stops being so
    and one when it is so again."""

    def __init__(self, url: str) -> None:
        self._url = shown_base_url(url)
        self.cause: str | None = None  # None: reachable
        self.since = 0.0  # monotonic, while unreachable
        self.probed_at = 0.0
        self.quiet = False  # the start check says it in its own one line
        self._back: anyio.Event | None = None

    def failed(self, cause: str) -> None:
        if self.cause is None:
            self.since = time.monotonic()
        if self.cause is None and not self.quiet:
            log.warning(
                "retell_unreachable",
                url=self._url,
                cause=cause,
                waiting="no new calls are placed until it answers; calls in flight are "
                "still followed",
            )
        self.cause = cause

    def answered(self) -> None:
        if self.cause is None:
            return
        # A warning like its start, so a terminal (which shows warnings only) sees both lines.
        log.warning(
            "retell_reachable",
            url=self._url,
            after_seconds=round(time.monotonic() - self.since, 1),
        )
        self.cause = None
        if self._back is not None:
            self._back.set()
            self._back = None

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less: until Retell answers again."""
        if self.cause is None:
            return
        if self._back is None:
            self._back = anyio.Event()
        with anyio.move_on_after(seconds):
            await self._back.wait()


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
        reads_per_second: float | None = DEFAULT_READS_PER_SECOND,
        log_reachability: bool = True,
    ) -> None:
        """`log_reachability`: log one line when Retell stops answering and one when it is
        back (long-running commands); a one-shot command reports its own failure instead."""
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
        self._recovery = _Recovery()
        self._reachability = _Reachability(base_url)
        self._reachability.quiet = not log_reachability
        # One budget for every read (get-call, list-calls, get-concurrency), whoever asks:
        # a large campaign or an outage never floods the API. Creates are paced by the
        # campaign's own fleet-wide calls_per_second instead.
        self._read_budget = (
            AsyncLimiter(reads_per_second, 1.0) if reads_per_second is not None else None
        )
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

    @property
    def unreachable(self) -> str | None:
        """Why no connection to Retell can be made now; None while it answers."""
        return self._reachability.cause

    @property
    def unreachable_seconds(self) -> float:
        """How long Retell has been unreachable (0 while it answers)."""
        if self._reachability.cause is None:
            return 0.0
        return time.monotonic() - self._reachability.since

    async def check_reachable(self, within: float = START_CHECK_SECONDS) -> None:
        """Raise RetellUnreachableError unless Retell answers get-concurrency within `within`
        seconds (transient faults retried as for every read). Any answer counts, an error
        status included: only a transport fault (refused, DNS, TLS, timeout) means Retell
        cannot be reached."""
        cause = f"no answer within {within:g} s"
        quiet, self._reachability.quiet = self._reachability.quiet, True
        try:
            with anyio.move_on_after(within):
                try:
                    await self.get_concurrency()
                except RetellTransportError as exc:
                    cause = exc.cause
                except RetellError:
                    return  # it answered, if not as this check hoped: the run will see
                else:
                    return
        finally:
            self._reachability.quiet = quiet
        raise RetellUnreachableError(shown_base_url(self.base_url), cause)

    async def until_reachable(self, probe_every: float) -> None:
        """Return once Retell answers again (at once if it does now). Asks get-concurrency at
        most every `probe_every` seconds across all who wait (any answer will do); a read that
        another task makes and that is answered ends the wait too."""
        while self._reachability.cause is not None:
            since_probe = time.monotonic() - self._reachability.probed_at
            if since_probe >= probe_every:
                self._reachability.probed_at = time.monotonic()
                # A transport fault keeps it unreachable; any answer, an error too, ends the wait.
                with contextlib.suppress(RetellError):
                    await self._request_once("GET", "/get-concurrency")
                continue
            await self._reachability.wait(probe_every - since_probe)

    async def answered_again(self, endpoint: str, seconds: float) -> bool:
        """Wait `seconds`, or less: until `endpoint` (`create-phone-call`, `list-calls`, …)
        answers again after a fault. True when it did (a backoff may start over)."""
        return await self._recovery.wait(endpoint, seconds)

    def _observed(
        self, endpoint: str, started: float, outcome: httpx.Response | httpx.HTTPError
    ) -> None:
        """Tell the recovery watch and the observer how a request went."""
        status = outcome.status_code if isinstance(outcome, httpx.Response) else None
        self._recovery.observe(endpoint, status)
        if isinstance(outcome, httpx.Response):
            self._reachability.answered()
        elif isinstance(outcome, _NO_CONNECTION):
            self._reachability.failed(transport_cause(outcome))
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
        endpoint = _endpoint(path)
        if self._read_budget is not None:
            await self._read_budget.acquire()
        started = time.perf_counter()
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self._observed(endpoint, started, exc)
            cause = transport_cause(exc)
            raise RetellTransportError(
                f"{method} {path}: {type(exc).__name__} ({cause})", cause
            ) from None
        self._observed(endpoint, started, response)
        if response.status_code >= 400:
            raise RetellStatusError(
                response.status_code, _message(response), _retry_after(response)
            )
        try:
            return response.json()
        except ValueError:
            self._observe_malformed(endpoint)
            raise RetellBodyError(endpoint, "not JSON", response.text) from None

    def _parse(self, model: type[_Model], path: str, data: Any) -> _Model:
        """`data` as `model`, or a RetellBodyError naming what is wrong with it."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            endpoint = _endpoint(path)
            self._observe_malformed(endpoint)
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            problem = f"{where}: {first['msg']}"
            raise RetellBodyError(endpoint, problem, json.dumps(data, default=str)) from None

    def _observe_malformed(self, endpoint: str) -> None:
        if self._observe is not None:
            self._observe(endpoint, 0.0, "malformed_body")

    async def get_call(self, call_id: str) -> PhoneCall:
        """GET /v2/get-call/{call_id}; transient faults are retried."""
        path = f"/v2/get-call/{call_id}"
        return self._parse(PhoneCall, path, await self._read("GET", path))

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
        answer = await self._read("POST", "/v3/list-calls", json=body)
        return self._parse(ListCallsPage, "/v3/list-calls", answer)

    async def find_calls_by_metadata(self, key: str, value: str) -> list[PhoneCall]:
        """Every call whose metadata[key] == value (how an ambiguous create is reconciled)."""
        criteria = {"metadata": [{"key": key, "op": "eq", "type": "string", "value": value}]}
        return await self._every_page(criteria)

    async def calls_by_id(
        self, call_ids: Sequence[str], statuses: Sequence[str] | None = None
    ) -> list[PhoneCall]:
        """The calls among `call_ids` (at most 1,000: one page) whose status is in `statuses`
        (all, if None): one request asks "which of the calls I follow have ended?"."""
        if len(call_ids) > MAX_PAGE:
            raise ValueError(f"at most {MAX_PAGE} call ids per request")
        criteria: dict[str, Any] = {
            "call_id": {"type": "enum", "op": "in", "value": list(call_ids)}
        }
        if statuses is not None:
            criteria["call_status"] = {"type": "enum", "op": "in", "value": list(statuses)}
        return (await self.list_calls(criteria, limit=MAX_PAGE)).items

    async def _every_page(self, criteria: dict[str, Any]) -> list[PhoneCall]:
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
        return self._parse(
            Concurrency, "/get-concurrency", await self._read("GET", "/get-concurrency")
        )

    # -- the account, as a preflight reads it (dialer doctor) -----------------------------------

    async def get_api_key_info(self) -> ApiKeyInfo:
        """GET /get-api-key-info: whose key this is (a cheap check that Retell accepts it)."""
        path = "/get-api-key-info"
        return self._parse(ApiKeyInfo, path, await self._read("GET", path))

    async def get_agent(self, agent_id: str, version: int | str | None = None) -> Agent:
        """GET /get-agent/{agent_id}, at `version` (default: the latest)."""
        path = f"/get-agent/{_segment(agent_id)}"
        return self._parse(Agent, path, await self._read("GET", path, params=_version(version)))

    async def get_retell_llm(self, llm_id: str, version: float | None = None) -> RetellLlm:
        """GET /get-retell-llm/{llm_id}, at `version` (default: the latest)."""
        path = f"/get-retell-llm/{_segment(llm_id)}"
        return self._parse(RetellLlm, path, await self._read("GET", path, params=_version(version)))

    async def get_conversation_flow(
        self, flow_id: str, version: float | None = None
    ) -> ConversationFlow:
        """GET /get-conversation-flow/{conversation_flow_id}, at `version` (default: latest)."""
        path = f"/get-conversation-flow/{_segment(flow_id)}"
        answer = await self._read("GET", path, params=_version(version))
        return self._parse(ConversationFlow, path, answer)

    async def get_phone_number(self, number: str) -> PhoneNumber:
        """GET /get-phone-number/{phone_number} (E.164; `+` stays as it is, as the SDK sends it)."""
        path = f"/get-phone-number/{_segment(number)}"
        return self._parse(PhoneNumber, path, await self._read("GET", path))


def _segment(value: str) -> str:
    """A path segment quoted the way the official SDK quotes it (`/` and `?` escaped)."""
    return quote(value, safe="!$&'()*+,;=:@")


def _version(version: float | str | None) -> dict[str, str]:
    if version is None:
        return {}
    if isinstance(version, float) and version.is_integer():
        return {"version": str(int(version))}
    return {"version": str(version)}
