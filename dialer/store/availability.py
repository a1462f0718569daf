"""Riding out the store going away. A verb that finds the database gone (a restart, a
failover) does not fail: it waits until the database answers again and runs again, while
every other verb waits with it. One waiter pings; when the database answers, the callbacks
registered with `when_back` run first (leases are renewed before anything else is written),
then everyone goes on. Past `limit_seconds` of silence, verbs raise StoreOutageError.

A verb that loses its connection in the middle of its transaction runs again from the start:
its transaction was rolled back, or — if the connection broke during COMMIT — committed, in
which case the fenced writes find nothing left to do."""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import anyio
import structlog

from dialer.store.errors import StoreOutageError, is_connection_lost, is_transient_conflict

log = structlog.get_logger("dialer.store")

DEFAULT_OUTAGE_SECONDS = 300.0
_PROBE_SECONDS = 0.5

T = TypeVar("T")
P = ParamSpec("P")
Listener = Callable[[bool, str], None]  # (store answers, reason) on every change


class Availability:
    def __init__(
        self, ping: Callable[[], Awaitable[None]], where: str, limit_seconds: float
    ) -> None:
        self._ping = ping
        self._where = where
        self.limit_seconds = limit_seconds
        self.down_since: float | None = None  # monotonic
        self.reason = ""
        self._probe = anyio.Lock()
        self._when_back: list[Callable[[], Awaitable[object]]] = []
        self._listeners: list[Listener] = []

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @contextlib.contextmanager
    def when_back(self, callback: Callable[[], Awaitable[object]]) -> Iterator[None]:
        """Run `callback` first thing when the store answers again after an outage."""
        self._when_back.append(callback)
        try:
            yield
        finally:
            self._when_back.remove(callback)

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        conflicts = 0
        while True:
            await self._until_answering()
            try:
                return await operation()
            except Exception as exc:
                if is_transient_conflict(exc):
                    conflicts += 1
                    await conflict_pause(conflicts, exc)
                    continue
                if not is_connection_lost(exc):
                    raise
                self._went_down(exc)

    def _went_down(self, exc: BaseException) -> None:
        self.reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        log.warning(
            "store_unavailable",
            store=self._where,
            reason=self.reason,
            waiting=f"claims paused, calls still followed; retrying every {_PROBE_SECONDS:g} s "
            f"for up to {self.limit_seconds:g} s",
        )
        for listener in self._listeners:
            listener(False, self.reason)

    async def _until_answering(self) -> None:
        while self.down_since is not None:
            async with self._probe:  # one prober; the others wait for its verdict
                if self.down_since is None:
                    return
                silent = time.monotonic() - self.down_since
                if silent > self.limit_seconds:
                    raise StoreOutageError(
                        f"the store at {self._where} has not answered for {silent:.0f} s "
                        f"({self.reason}); giving up. Nothing was lost: start again once it "
                        "answers (DIALER_STORE_OUTAGE_SECONDS sets how long to wait)"
                    )
                try:
                    with anyio.fail_after(5):
                        await self._ping()
                except Exception as exc:
                    if not is_connection_lost(exc):
                        raise
                    self.reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                    await anyio.sleep(_PROBE_SECONDS)
                    continue
                await self._came_back(silent)

    async def _came_back(self, silent: float) -> None:
        self.down_since = None
        log.info("store_back", store=self._where, after_seconds=round(silent, 1))
        for listener in self._listeners:
            listener(True, "")
        for callback in list(self._when_back):  # still under the probe lock: before the rest
            await callback()


async def conflict_pause(conflicts: int, exc: BaseException) -> None:
    """Before running a transaction again that the database rolled back in favour of another
    (a deadlock, a serialization failure): a short jittered wait, longer each time, so the two
    do not meet again. Never fatal: the other transaction finishes, and this one goes through."""
    log.info(
        "store_conflict_retried",
        conflicts=conflicts,
        error=f"{type(exc).__name__}: {exc}".splitlines()[0][:200],
    )
    await anyio.sleep(random.uniform(0.01, min(1.0, 0.02 * 2**conflicts)))


class HasAvailability(Protocol):
    availability: Availability


S = TypeVar("S", bound=HasAvailability)


def rides_out_outages(
    verb: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """A store verb that waits out the database going away (see Availability)."""

    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.availability.run(lambda: verb(self, *args, **kwargs))

    functools.update_wrapper(wrapper, verb)
    return wrapper
