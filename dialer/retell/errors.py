"""What can go wrong talking to Retell, in types: a transport fault (and its cause in words), an
answer of the wrong shape, an error status, Retell unreachable at start."""

from __future__ import annotations

import socket
import ssl

import httpx

from dialer.domain.causes import causes

BODY_SHOWN = 200  # characters of a malformed body that errors and logs show
# Faults that prove no connection was made: Retell cannot be reached (no request was sent).
NO_CONNECTION = (httpx.ConnectError, httpx.ConnectTimeout)


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


def transport_cause(exc: httpx.HTTPError) -> str:
    """A transport fault in words a person can act on: `connection refused`, `DNS lookup
    failed: Name or service not known`, `TLS failed: CERTIFICATE_VERIFY_FAILED`, …"""
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    for link in reversed(list(causes(exc))):  # the root cause first
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
        self.body = body[:BODY_SHOWN]
        super().__init__(f"{endpoint}: {problem}; body: {self.body!r}")


class RetellStatusError(RetellError):
    """An error status from the API."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"Retell answered {status}: {message}")
