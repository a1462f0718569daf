"""Results pushed to a campaign's `results_webhook`: the setting, the events, the signature a
receiver checks, and when a failed delivery is tried again.

The signature reads `v=<ms since epoch>,d=<hex>`, `<hex>` being HMAC-SHA256 keyed with the
campaign's secret over the raw body bytes followed by the `v` value (as Retell signs its own
webhooks). `verify` is what a receiver runs; copy it, it needs only the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

LEAD_FINISHED: Final = "lead_finished"
ATTEMPT_ENDED: Final = "attempt_ended"
EventKind = Literal["lead_finished", "attempt_ended"]
EVENT_KINDS: tuple[EventKind, ...] = (LEAD_FINISHED, ATTEMPT_ENDED)

SIGNATURE_HEADER = "x-dialer-signature"
EVENT_ID_HEADER = "x-dialer-event-id"
DELIVERY_TIMEOUT = timedelta(seconds=5)  # one POST, connect to last byte
DELIVERY_WINDOW = timedelta(hours=24)  # tried again until this long after the event
FIRST_RETRY = timedelta(seconds=1)
LONGEST_RETRY = timedelta(minutes=10)
TOLERANCE_MS = 5 * 60 * 1000  # how old a signature a receiver accepts (its own choice)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIGNATURE = re.compile(r"v=(\d+),d=([0-9a-f]{64})")
CREDENTIALS_STORED = "they would be stored in plain text"
_HOST = re.compile(r"[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+\]")


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("from_store"))


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a results webhook (one line naming it), or None: an http(s) URL
    with a host, a port 1-65535 if any, and no credentials (they would be stored in plain
    text; the signature secret is what proves the sender)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            return f"{url!r}: its port is not a number in 1-65535"
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not url.startswith(parts.scheme + "://"):
        return f"{url!r} is not an http(s) URL"
    if parts.username is not None or parts.password is not None:
        shown = parts._replace(netloc=f"***@{parts.netloc.rsplit('@', 1)[1]}").geturl()
        return (
            f"{shown!r} holds credentials; put credentials in the signature secret "
            f"(secret_env), not the URL: {CREDENTIALS_STORED}"
        )
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if not parts.hostname or not _HOST.fullmatch(host):
        return f"{url!r} has no valid host"
    if port is not None and not 1 <= port <= 65535:
        return f"{url!r}: port {port} is not in 1-65535"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return f"{url!r} holds a space or control character"
    return None


class ResultsWebhook(BaseModel):
    """`results_webhook:` where each lead's (and attempt's) result is POSTed, signed with the
    secret in the environment variable `secret_env` (the secret itself is never in the file,
    the store or a log)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    secret_env: str
    events: list[EventKind] = Field(default_factory=lambda: list(EVENT_KINDS), min_length=1)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str, info: ValidationInfo) -> str:
        # one stored before such URLs were refused stays readable: its events fail alone
        problem = None if _stored(info) else url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an environment variable's name (like CRM_SECRET)")
        return value

    @field_validator("events")
    @classmethod
    def _once_each(cls, value: list[EventKind], info: ValidationInfo) -> list[EventKind]:
        if _stored(info):
            return list(dict.fromkeys(value))
        twice = sorted({kind for kind in value if value.count(kind) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed twice; list each event once")
        return value


def missing_secret(hook: ResultsWebhook | None, environ: Mapping[str, str]) -> str | None:
    """One line saying the webhook's secret is not set in this process (naming the variable,
    never a value); None when there is no webhook or its secret is set."""
    if hook is None or environ.get(hook.secret_env):
        return None
    return (
        f"results_webhook.secret_env: the environment variable {hook.secret_env} is not set "
        "(the secret results are signed with)"
    )


def _digest(body: bytes, secret: str, timestamp_ms: int) -> str:
    return hmac.new(secret.encode(), body + str(timestamp_ms).encode(), hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp_ms: int) -> str:
    """The `x-dialer-signature` value sent with `body` at `timestamp_ms`."""
    return f"v={timestamp_ms},d={_digest(body, secret, timestamp_ms)}"


def verify(
    body: bytes, secret: str, signature: str, now_ms: int, tolerance_ms: int = TOLERANCE_MS
) -> bool:
    """Whether `signature` is dialer's for `body` (the bytes as received), made at most
    `tolerance_ms` away from `now_ms`."""
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        return False
    stamp = int(match.group(1))
    if abs(now_ms - stamp) > tolerance_ms:
        return False
    return hmac.compare_digest(_digest(body, secret, stamp), match.group(2))


def retry_delay(failures: int, jitter: float) -> timedelta:
    """How long to wait after the `failures`-th failed delivery (1 s, doubling, at most
    10 min), spread by `jitter` in [0, 1): from 75 % to 125 % of that, never past the cap."""
    base = FIRST_RETRY * 2 ** min(max(failures - 1, 0), 20)
    spread: timedelta = base * (0.75 + 0.5 * min(max(jitter, 0.0), 1.0))
    return spread if spread < LONGEST_RETRY else LONGEST_RETRY


def next_try_at(
    created_at: datetime, now: datetime, failures: int, jitter: float
) -> datetime | None:
    """When a failed event is tried again; None when that would be past its 24 hours (it is
    dead)."""
    at = now + retry_delay(failures, jitter)
    return None if at > created_at + DELIVERY_WINDOW else at
