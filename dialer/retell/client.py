"""An async client for the Retell call API that classifies every create precisely.

A create that succeeds places a real phone call, so it is never retried here: its outcome is
`Placed`, `NotPlaced` (the answer proves no call exists), `Ambiguous` (a call may exist) or
`Fatal` (the account or key is refused). The runner decides what to do. Reads retry transient
faults with tenacity, and while an endpoint keeps failing its reads back off together
(read_backoff.py).

The client also knows whether Retell can be reached at all: a connection that cannot be made
(refused, DNS, TLS, connect timeout) on any request marks it unreachable, any answer marks it
reachable again, with one log line at each change. Claim loops wait while it is unreachable.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import structlog
from aiolimiter import AsyncLimiter
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from dialer import __version__
from dialer.retell.create_answers import (
    CreateOutcome,
    _Model,
    classify_create_error,
    classify_create_response,
    endpoint_of,
    error_message,
    retry_after_of,
)
from dialer.retell.errors import (
    NO_CONNECTION,
    RetellBodyError,
    RetellError,
    RetellStatusError,
    RetellTransportError,
    RetellUnreachableError,
    shown_base_url,
    transport_cause,
)
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
from dialer.retell.read_backoff import ReadBackoff
from dialer.retell.recovery import Reachability, Recovery, _transient
from dialer.retell.settings import ApiKey

log = structlog.get_logger("dialer.retell")

CREATE_PATH = "/v2/create-phone-call"
MAX_PAGE = 1000  # list-calls' largest page
DEFAULT_READS_PER_SECOND = 10.0
# `dialer run` gives up at start when Retell gives no answer at all within this long (reads'
# own retries included), so a wrong RETELL_BASE_URL is one line well within 30 s.
START_CHECK_SECONDS = 20.0
# Told of every request: endpoint (create-phone-call, get-call, list-calls, …), seconds, and
# the error kind (an exception name or http_NNN) or None.
ApiObserver = Callable[[str, float, str | None], None]


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
        self._recovery = Recovery()
        self._reachability = Reachability(base_url)
        self._reachability.quiet = not log_reachability
        # Reads of an endpoint that fails (5xx, 429, no answer) take turns, spaced by a capped
        # exponential backoff, until its first good answer: quiet while Retell is down.
        self.read_backoff = ReadBackoff(quiet=not log_reachability)
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
        elif isinstance(outcome, NO_CONNECTION):
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
        endpoint = endpoint_of(path)
        await self.read_backoff.turn(endpoint)
        if self._read_budget is not None:
            await self._read_budget.acquire()
        started = time.perf_counter()
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.read_backoff.observe(endpoint, None)
            self._observed(endpoint, started, exc)
            cause = transport_cause(exc)
            raise RetellTransportError(
                f"{method} {path}: {type(exc).__name__} ({cause})", cause
            ) from None
        self.read_backoff.observe(endpoint, response.status_code)
        self._observed(endpoint, started, response)
        if response.status_code >= 400:
            raise RetellStatusError(
                response.status_code, error_message(response), retry_after_of(response)
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
            endpoint = endpoint_of(path)
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
