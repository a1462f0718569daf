"""What `dialer run` and `dialer worker` share: a Retell client (or an in-process
simulator), a worker id, signal handling."""

from __future__ import annotations

import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import structlog

from dialer.domain.exit_codes import for_signal
from dialer.observability.metrics import observe_api_call
from dialer.retell import DEFAULT_READS_PER_SECOND, RetellClient
from dialer.retell.settings import ApiKey, RetellSettings

log = structlog.get_logger("dialer")


class UsageError(Exception):
    """A problem the user must fix before anything runs (exit 2)."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def retell_client(
    retell: RetellSettings | None,
    simulate: bool,
    speed: float,
    reads_per_second: float = DEFAULT_READS_PER_SECOND,
) -> AsyncIterator[RetellClient]:
    """A client for Retell, or for an in-process simulator on loopback. Its read budget is
    `reads_per_second` of the Retell it dials: times `speed` in real seconds."""
    budget = reads_per_second * speed
    if simulate:  # loaded only here: a production worker never imports the simulator
        from dialer.simulator import SimulatedRetell, SimulatorServer

        engine = SimulatedRetell(api_key="sim-key", speed=speed, concurrency_limit=100)
        async with SimulatorServer(engine) as server:
            log.info("simulator_started", url=server.url, speed=speed)
            async with RetellClient(
                ApiKey("sim-key"), server.url, reads_per_second=budget
            ) as client:
                yield client
        return
    if retell is None:
        raise UsageError("RETELL_API_KEY is not set (or use --simulate to try the simulator)")
    async with RetellClient(
        retell.api_key, retell.base_url, observe=observe_api_call, reads_per_second=budget
    ) as client:
        yield client


async def watch_signals(stop: Callable[[], None], received: list[int]) -> None:
    """First SIGINT/SIGTERM: a clean stop. Second: exit at once (the store is consistent)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if received:
                os._exit(for_signal(signum))
            received.append(signum)
            log.warning(
                "stopping",
                signal=signal.Signals(signum).name,
                hint="in-flight requests finish; send again to exit at once",
            )
            stop()


def reveal(secret: ApiKey | None) -> str | None:
    return secret.reveal() if secret else None


def pusher_lease(lease_seconds: float) -> float:
    """The lease on events being delivered: the process's, but never shorter than one POST."""
    return max(lease_seconds, 7.0)
