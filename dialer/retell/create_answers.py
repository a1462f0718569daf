"""What a create-phone-call answer proves: a call was placed, none exists, one may exist, or the
key or account is refused. A create that succeeds places a real call, so this is exact."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeVar

import httpx
from pydantic import BaseModel

from dialer.retell.models import (
    PhoneCall,
)

PERMANENT = frozenset({400, 422})
FATAL = frozenset({401, 402, 403})
MAX_RETRY_AFTER = 300.0


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
    """401/402/403: the key or the account is refused; 404: there is no create-phone-call at
    this address (Retell's document lists no 404 for it: a wrong RETELL_BASE_URL or a proxy
    that routes elsewhere). Either way every create would fail alike: stop the campaign."""

    reason: str
    status: int

    @property
    def account(self) -> bool:
        """The key or the account is refused (else: the address is wrong)."""
        return self.status != 404


CreateOutcome = Placed | NotPlaced | Ambiguous | Fatal


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error_message", "error", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return json.dumps(body)[:300]


def retry_after_of(response: httpx.Response) -> float | None:
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return min(MAX_RETRY_AFTER, float(millis) / 1000)
        except ValueError:
            pass
    seconds = response.headers.get("retry-after")
    if seconds:
        try:
            return min(MAX_RETRY_AFTER, float(seconds))
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
    message = error_message(response)
    if status in FATAL or status == 404:
        return Fatal(message, status)
    if status in PERMANENT:
        return NotPlaced(message, status, permanent=True)
    if status == 429:
        return NotPlaced(message, status, retry_after=retry_after_of(response))
    return Ambiguous(message, status)  # 5xx, 408, 409 and anything unexpected


def classify_create_error(exc: httpx.HTTPError) -> CreateOutcome:
    """Map a transport fault onto what it proves about the call."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return NotPlaced(f"request not sent: {name}")
    return Ambiguous(f"no answer after sending: {name}")


_Model = TypeVar("_Model", bound=BaseModel)


def endpoint_of(path: str) -> str:
    """`get-call` for /v2/get-call/{id}, `list-calls` for /v3/list-calls, …"""
    return path.strip("/").split("/")[1 if path.startswith("/v") else 0]
