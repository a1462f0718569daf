"""Retell's webhook events: the `x-retell-signature` check and the `{event, call}` body.

The signature reads `v=<ms since epoch>,d=<hex>`, `<hex>` being HMAC-SHA256 keyed with the API key
over the raw body text followed by the `v` value. dialer accepts it from five minutes after its
timestamp back to 30 seconds before it (clock skew between Retell and this machine): a stamp
further in the future is refused, so a captured signature cannot be made to live longer. Verify
the body exactly as received: re-serialized JSON would not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from dialer.retell.models import PhoneCall

SIGNATURE_HEADER = "x-retell-signature"
TOLERANCE_MS = 5 * 60 * 1000  # how old a signature may be
FUTURE_SKEW_MS = 30 * 1000  # how far ahead of this machine's clock Retell's may run
CALL_EVENTS = frozenset({"call_started", "call_ended", "call_analyzed"})
_SIGNATURE = re.compile(r"v=(\d+),d=([0-9a-f]{64})")


def _digest(body: str, api_key: str, timestamp_ms: int) -> str:
    message = (body + str(timestamp_ms)).encode()
    return hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest()


def sign(body: str, api_key: str, timestamp_ms: int) -> str:
    """The `x-retell-signature` value Retell sends with `body` (the simulator signs with it)."""
    return f"v={timestamp_ms},d={_digest(body, api_key, timestamp_ms)}"


def verify(body: str, api_key: str, signature: str, now_ms: int) -> bool:
    """Whether `signature` is Retell's for `body`, made at most five minutes before `now_ms`
    and at most 30 seconds after it."""
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        return False
    stamp = int(match.group(1))
    if not -FUTURE_SKEW_MS <= now_ms - stamp <= TOLERANCE_MS:
        return False
    return hmac.compare_digest(_digest(body, api_key, stamp), match.group(2))


@dataclass(frozen=True)
class CallEvent:
    event: str
    call: PhoneCall


class BadEventError(ValueError):
    """A signed body that is not a call event this version understands."""


def parse_event(body: bytes) -> CallEvent:
    """The event in a webhook body; raises BadEventError saying what is wrong."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadEventError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("call"), dict):
        raise BadEventError("expected an object with `event` and `call`")
    event = data.get("event")
    if event not in CALL_EVENTS:
        raise BadEventError(f"unknown event {event!r}")
    try:
        call = PhoneCall.model_validate(data["call"])
    except ValidationError as exc:
        raise BadEventError(f"call: {exc.errors()[0]['msg']}") from None
    return CallEvent(str(event), call)
