"""The wall clock calling hours are judged by.

`DIALER_CLOCK_START` (an ISO instant, e.g. 2026-11-24T14:30:00Z) makes this process's clock
start at that instant and run on from it at normal speed: a way to try calling hours at any
hour of any day, and how the tests pin "Tuesday 14:30 UTC". Pacing, leases and the store's own
timestamps keep the real clock.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

CLOCK_START_VARIABLE = "DIALER_CLOCK_START"


@dataclass(frozen=True)
class Clock:
    offset_seconds: float = 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset_seconds, UTC)

    @property
    def shifted(self) -> bool:
        return self.offset_seconds != 0.0

    def shift_note(self) -> str:
        """What a person must be told at start when the clock is not the real one: a forgotten
        DIALER_CLOCK_START moves every calling window."""
        return (
            f"{CLOCK_START_VARIABLE} is set: calling hours are judged as if it were "
            f"{self.now():%Y-%m-%d %H:%M} UTC, not {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
            f"unset {CLOCK_START_VARIABLE} for real calls"
        )

    @classmethod
    def from_iso(cls, start: str) -> Clock:
        """A clock that reads `start` now (naive instants are UTC)."""
        at = datetime.fromisoformat(start)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return cls(at.timestamp() - time.time())

    @classmethod
    def from_env(cls) -> Clock:
        start = os.environ.get(CLOCK_START_VARIABLE)
        if not start:
            return cls()
        try:
            return cls.from_iso(start)
        except ValueError:
            raise ValueError(
                f"{CLOCK_START_VARIABLE}={start!r} is not an ISO instant "
                "(like 2026-11-24T14:30:00Z)"
            ) from None
