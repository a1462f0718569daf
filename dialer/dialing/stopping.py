"""Waiting on something unless the runner stops first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def unless_stopped(stopping: anyio.Event, wait: Callable[[], Awaitable[T]]) -> T | None:
    """`wait()`'s answer; None when `stopping` is set first (then `wait` is cancelled)."""
    answer: T | None = None
    async with anyio.create_task_group() as group:

        async def waiting() -> None:
            nonlocal answer
            answer = await wait()
            group.cancel_scope.cancel()

        group.start_soon(waiting)
        await stopping.wait()
        group.cancel_scope.cancel()
    return answer
