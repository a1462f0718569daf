"""Following placed calls to their end: one `get-call` per call, fast right after dialing and
around the typical call length, slower in long calls. Read faults retry with backoff; a call
unreadable for minutes is reported and still followed. A terminal call is handed to the end
callback exactly once, whether a poll or a webhook saw it first."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import structlog

from dialer.dialing.options import RunOptions
from dialer.retell import PhoneCall, RetellBodyError, RetellClient, RetellError
from dialer.store import Attempt

UNREADABLE_WARN_SECONDS = 300.0


@dataclass
class FollowedCall:
    """A placed call this process follows."""

    attempt: Attempt
    call_id: str
    followed_since: float  # monotonic
    next_read: float
    last_read: float
    reading: bool = False  # a read (or a webhook's settling) is under way
    failures: int = 0
    warned_at: float = 0.0


# Called once per call with its terminal state and what saw it ("poll" or "webhook").
EndCallback = Callable[[FollowedCall, PhoneCall, str], Awaitable[None]]


class CallFollower:
    def __init__(
        self,
        client: RetellClient,
        options: RunOptions,
        on_end: EndCallback,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._client = client
        self._options = options
        self._on_end = on_end
        self._log = log
        self._calls: dict[str, FollowedCall] = {}  # by attempt id
        self._wake = anyio.Event()
        self._mean_call_seconds: float | None = None

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._calls

    def attempt_ids(self) -> list[str]:
        return list(self._calls)

    def follow(self, attempt: Attempt, call_id: str, *, read_now: bool = False) -> FollowedCall:
        """Start following a placed call: first read after the shortest interval (or at once,
        for a call taken over from another worker)."""
        now = time.monotonic()
        first = now if read_now else now + self._options.scaled(self._options.poll_min_seconds)
        followed = FollowedCall(attempt, call_id, now, first, now)
        self._calls[attempt.attempt_id] = followed
        self._wake.set()
        return followed

    async def report(self, call: PhoneCall) -> bool:
        """A webhook told how a call stands. If it is followed here and over, settle it now.
        Returns whether the call is followed here."""
        followed = next((f for f in self._calls.values() if f.call_id == call.call_id), None)
        if followed is None:
            return False
        if call.is_terminal and not followed.reading:  # a read in flight settles it just as well
            followed.reading = True  # keeps the poll loop off it meanwhile
            try:
                await self.finish(followed, call, "webhook")
            finally:
                followed.reading = False
        return True

    async def finish(self, followed: FollowedCall, call: PhoneCall, source: str) -> None:
        """The call is terminal: hand it to the end callback, then stop following it."""
        try:
            await self._on_end(followed, call, source)
        finally:
            self._calls.pop(followed.attempt.attempt_id, None)
        seconds = (time.monotonic() - followed.followed_since) * self._options.speed
        mean = self._mean_call_seconds
        self._mean_call_seconds = seconds if mean is None else 0.9 * mean + 0.1 * seconds

    async def run(self) -> None:
        """Read every followed call when its next read is due, until cancelled."""
        limit = anyio.Semaphore(self._options.poll_concurrency)
        async with anyio.create_task_group() as group:
            while True:
                now = time.monotonic()
                soonest = now + 0.25
                for followed in list(self._calls.values()):
                    if followed.reading:
                        continue
                    if followed.next_read <= now:
                        followed.reading = True
                        group.start_soon(self._read, followed, limit)
                    else:
                        soonest = min(soonest, followed.next_read)
                with anyio.move_on_after(max(0.005, soonest - time.monotonic())):
                    await self._wake.wait()
                self._wake = anyio.Event()

    async def _read(self, followed: FollowedCall, limit: anyio.Semaphore) -> None:
        try:
            async with limit:
                try:
                    call = await self._client.get_call(followed.call_id)
                except RetellError as exc:  # transport, status or a body of the wrong shape
                    self._read_failed(followed, exc)
                    return
                except Exception as exc:  # a fault of ours must not end the process either
                    self._log.exception("call_read_crashed", call=followed.call_id)
                    self._read_failed(followed, exc)
                    return
            followed.failures, followed.last_read = 0, time.monotonic()
            if call.is_terminal:
                await self.finish(followed, call, "poll")
            else:
                followed.next_read = time.monotonic() + self._interval(followed, call)
        finally:
            followed.reading = False
            self._wake.set()  # its next read may be sooner than the loop's sleep

    def _interval(self, followed: FollowedCall, call: PhoneCall) -> float:
        """Fast right after dialing and around the expected end; slower in long calls."""
        opts = self._options
        elapsed = (time.monotonic() - followed.followed_since) * opts.speed
        low, high = opts.poll_min_seconds, opts.poll_max_seconds
        if call.call_status == "registered":
            interval = low
        else:
            interval = min(high, max(low, elapsed / 4))
            mean = self._mean_call_seconds
            if mean is not None and 0.8 * mean <= elapsed <= 1.5 * mean:
                interval = low
        return opts.scaled(interval)

    def _read_failed(self, followed: FollowedCall, exc: Exception) -> None:
        followed.failures += 1
        if isinstance(exc, RetellBodyError):
            self._log.warning("call_read_malformed", call=followed.call_id, error=str(exc))
        now = time.monotonic()
        followed.next_read = now + min(30.0, 0.5 * 2 ** min(followed.failures, 6))
        unreadable = now - followed.last_read
        if unreadable > UNREADABLE_WARN_SECONDS and now - followed.warned_at > 60:
            followed.warned_at = now
            self._log.warning(
                "call_unreadable",
                call=followed.call_id,
                attempt=followed.attempt.attempt_id,
                seconds=round(unreadable),
                error=str(exc),
            )
