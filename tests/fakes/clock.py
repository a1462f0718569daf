"""Time for the fakes: instants on anyio's clock, so a virtual clock (trio's MockClock) drives
the in-memory store, the in-memory call API and the calling hours alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio

from dialer.dialing.clock import Clock

# A Tuesday afternoon in New York: inside the default calling hours of every US zone.
TUESDAY_AFTERNOON = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)


class VirtualTime:
    """Aware datetimes that start at `start` on the first reading and move with
    `anyio.current_time()` (virtual under trio's MockClock, real under asyncio)."""

    def __init__(self, start: datetime = TUESDAY_AFTERNOON) -> None:
        self.start = start
        self._base: float | None = None

    def seconds(self) -> float:
        """Seconds since the first reading."""
        now = anyio.current_time()
        if self._base is None:
            self._base = now
        return now - self._base

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds())


@dataclass(frozen=True)
class VirtualWallClock(Clock):
    """The wall clock calling hours are judged by (RunOptions.clock), on virtual time."""

    time: VirtualTime = field(default_factory=VirtualTime, kw_only=True)

    def now(self) -> datetime:
        return self.time.now()
