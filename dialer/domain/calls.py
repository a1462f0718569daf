"""A call's end as dialer records it: Retell's terminal call object, reduced and typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class CallStatus(StrEnum):
    """Retell's `call_status` of a call (retell-api.md). A call that connected and ended is
    `ended`; one that never connected is `not_connected` (the seed era said `ended` with a
    dial reason); `error` is Retell's own failure."""

    REGISTERED = "registered"  # id issued, dialing
    NOT_CONNECTED = "not_connected"
    ONGOING = "ongoing"
    ENDED = "ended"
    ERROR = "error"


TERMINAL_CALL_STATUSES = frozenset({CallStatus.ENDED, CallStatus.ERROR, CallStatus.NOT_CONNECTED})
ALIVE_CALL_STATUSES = (CallStatus.REGISTERED, CallStatus.ONGOING)


@dataclass(frozen=True)
class CallEnd:
    """What a terminal call says: status, reason, when it started and ended, its analysis."""

    call_id: str
    call_status: str
    disconnection_reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    analysis: dict[str, Any] | None = None
    cost_cents: float | None = None  # Retell's call_cost.combined_cost (cents)
    recording_url: str | None = None


def from_epoch_ms(value: object) -> datetime | None:
    """Retell's timestamps (milliseconds since the epoch) as aware datetimes."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)
