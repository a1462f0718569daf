"""A worker's health as its container's probes ask: `/healthz` (liveness: its loop runs and
its store answers; 503 with the reason during a store outage, which it rides out) and
`/readyz` (readiness: that, and Retell answers)."""

from __future__ import annotations

import time

import anyio

from dialer.dialing.worker import Worker
from dialer.retell import RetellClient, RetellError
from dialer.store import Store

Details = dict[str, object]
_RETELL_CHECK_SECONDS = 5.0  # a readiness probe reads Retell at most this often


class WorkerHealth:
    def __init__(
        self, store: Store, client: RetellClient, worker: Worker, scan_seconds: float
    ) -> None:
        self._store = store
        self._client = client
        self._worker = worker
        self._stale_after = max(30.0, 5 * scan_seconds)
        self._retell: tuple[float, str] = (-1e9, "")

    async def live(self) -> tuple[bool, Details]:
        details: Details = {"campaigns": len(self._worker.runners)}
        outage = self._store.availability
        if outage.down_since is not None:
            silent = time.monotonic() - outage.down_since
            details["store"] = f"down for {silent:.0f} s: {outage.reason}"
            details["gives_up_after_seconds"] = outage.limit_seconds
            return False, details
        try:
            with anyio.fail_after(2):
                await self._store.ping()
            details["store"] = "ok"
        except Exception as exc:  # any failure to answer is "unhealthy"
            details["store"] = type(exc).__name__
            return False, details
        stale = anyio.current_time() - self._worker.last_scan  # the worker reads anyio's clock
        details["last_scan_seconds_ago"] = round(stale, 1)
        return stale < self._stale_after, details

    async def ready(self) -> tuple[bool, Details]:
        healthy, details = await self.live()
        checked_at, retell = self._retell
        if time.monotonic() - checked_at > _RETELL_CHECK_SECONDS:
            try:
                with anyio.fail_after(3):
                    await self._client.get_concurrency()
                retell = "ok"
            except (RetellError, TimeoutError) as exc:
                retell = f"{type(exc).__name__}: {exc}"[:200]
            self._retell = (time.monotonic(), retell)
        cause = self._client.unreachable
        if cause is not None:  # what the claim loops wait for, whatever the last probe said
            retell = f"unreachable for {self._client.unreachable_seconds:.0f} s: {cause}"
        details["retell"] = retell
        return healthy and retell == "ok", details
