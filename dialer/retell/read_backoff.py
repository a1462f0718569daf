"""Quiet while Retell is down: the read backoff state, one per client (one client per process),
so every follower, reconciliation and check of the process shares it.

Per endpoint family (`get-call`, `list-calls`, `get-concurrency`, …): how many reads failed in a
row (a 5xx or 429, a timeout, a refused connection) and when the next read may go. While a family
fails, its reads take turns: one goes at a time, spaced `domain.backoff.backoff_delay` apart (at
most READ_BACKOFF_MAX), the rest wait. The first good answer sets the family back to full speed
and wakes every waiter at once. One log line when a family starts backing off, one when it
answers again. Creates are not gated here: an attempt in doubt holds its slot (placer.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import structlog

from dialer.domain.backoff import (
    ANNOUNCE_AFTER,
    READ_BACKOFF_MAX,
    backoff_delay,
    is_read_fault,
)

log = structlog.get_logger("dialer.retell")


@dataclass
class _Family:
    failures: int = 0  # in a row
    next_at: float = 0.0  # anyio.current_time() the next read may go at, while failing
    announced: bool = False
    back: anyio.Event = field(default_factory=anyio.Event)  # set on the first good answer


class ReadBackoff:
    """Consecutive read failures per endpoint family, and the turns reads take while one fails."""

    def __init__(self, *, quiet: bool = False, draw: Callable[[], float] = random.random) -> None:
        self.quiet = quiet  # one-shot commands report their own failure instead
        self._draw = draw
        self._families: dict[str, _Family] = {}

    def failures(self, family: str) -> int:
        """How many reads of `family` failed in a row (0: it answers)."""
        state = self._families.get(family)
        return 0 if state is None else state.failures

    async def turn(self, family: str) -> None:
        """Return when a read of `family` may go: at once while it answers; while it fails,
        at the next free turn (or at once when another read gets a good answer meanwhile)."""
        state = self._families.get(family)
        while state is not None and state.failures:
            now = anyio.current_time()
            if now >= state.next_at:
                # this read is the probe: the next one waits a full delay after it
                state.next_at = now + backoff_delay(state.failures, self._draw())
                return
            back = state.back
            with anyio.move_on_after(state.next_at - now):
                await back.wait()

    def observe(self, family: str, status: int | None) -> None:
        """How a read of `family` went: its status, or None for no answer at all."""
        state = self._families.setdefault(family, _Family())
        if not is_read_fault(status):
            self._answered(family, state)
            return
        state.failures += 1
        delay = backoff_delay(state.failures, self._draw())
        state.next_at = max(state.next_at, anyio.current_time() + delay)
        if state.failures >= ANNOUNCE_AFTER and not state.announced:
            state.announced = True
            if not self.quiet:
                what = "no answer" if status is None else str(status)
                log.warning(
                    "retell_reads_backing_off",
                    endpoint=family,
                    status=status,
                    message=f"Retell is not answering reads ({family}: {what}): reading every "
                    f"{READ_BACKOFF_MAX:g} s until it does",
                )

    def _answered(self, family: str, state: _Family) -> None:
        if not state.failures:
            return
        if state.announced and not self.quiet:
            log.warning(
                "retell_reads_answered",
                endpoint=family,
                after_failures=state.failures,
                message=f"Retell answers reads again ({family}): reading at full speed",
            )
        state.failures, state.next_at, state.announced = 0, 0.0, False
        state.back.set()
        state.back = anyio.Event()
