"""Whether Retell answers: an endpoint that failed wakes its waiters on its first answer again
(Recovery), and a connection that cannot be made marks Retell unreachable until any answer
(Reachability), with one log line at each change."""

from __future__ import annotations

import time

import anyio
import structlog

from dialer.retell.errors import RetellStatusError, RetellTransportError, shown_base_url

log = structlog.get_logger("dialer.retell")


class Recovery:
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


class Reachability:
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
