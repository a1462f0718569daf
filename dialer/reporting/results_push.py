"""Delivering the results outbox to each campaign's `results_webhook`: a task beside the
dialing in every `dialer worker` and `dialer run`, separate from it and bounded (a few POSTs in
flight, each with its own timeout), so a receiver that is down or hangs never slows a call.

Each event is claimed under a lease (a process killed mid-delivery leaves it leased; once the
lease lapses any process delivers it again: at least once), one lead's events in order; its
body is the lead's (or attempt's) `dialer export` row with the event's id, kind, campaign and
time, signed as dialer.domain.results_push says. 2xx is delivered; anything else is tried
again with backoff for 24 hours, then the event is dead (logged once)."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Mapping
from typing import Any

import anyio
import httpx
import structlog

from dialer.domain.results_push import (
    ATTEMPT_ENDED,
    DELIVERY_TIMEOUT,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    missing_secret,
    sign,
)
from dialer.domain.states import CampaignStatus
from dialer.observability.metrics import METRICS
from dialer.reporting.export import ATTEMPT_FIELDS, LEAD_FIELDS, shaped
from dialer.store import OutboxEvent, Store

log = structlog.get_logger("dialer.results")

IN_FLIGHT = 4  # POSTs at once per process
LEASE_SECONDS = 30.0  # well past one POST's timeout
IDLE_SECONDS = 1.0  # between looks at the outbox while nothing is due
RECORD_SECONDS = 10.0  # the most a stopping process waits to record an answer it got


def event_body(event: OutboxEvent) -> dict[str, Any]:
    """What is POSTed: the event's id, kind, campaign and time, then the export's row."""
    fields = ATTEMPT_FIELDS if event.kind == ATTEMPT_ENDED else LEAD_FIELDS
    return {
        "event_id": event.event_id,
        "event": event.kind,
        "campaign": event.campaign,
        "event_at": event.created_at.isoformat(),
        **shaped(event.payload, fields),
    }


class ResultsPusher:
    """Delivers due events until cancelled; `drain` delivers one campaign's before a run ends."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        *,
        environ: Mapping[str, str] = os.environ,
        in_flight: int = IN_FLIGHT,
        lease_seconds: float = LEASE_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.environ = environ
        self.in_flight = in_flight
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self._transport = transport
        self._unset_told: set[str] = set()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=DELIVERY_TIMEOUT.total_seconds(),
            transport=self._transport,
            follow_redirects=False,
        )

    async def run(self) -> None:
        """Deliver whatever is due, forever (a store outage or a bad receiver is waited out).
        First, say which active campaigns' secrets this process lacks."""
        try:
            for row in await self.store.campaigns():
                hook = row.settings().results_webhook
                if row.status is CampaignStatus.ACTIVE and missing_secret(hook, self.environ):
                    assert hook is not None
                    self._tell_unset(row.name, hook.secret_env)
        except Exception as exc:  # the deliveries tell it again, event by event
            log.warning("results_check_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        async with self._client() as client:
            while True:
                if not await self._round(client, None):
                    await anyio.sleep(self.idle_seconds)

    async def drain(self, campaign_id: int, seconds: float) -> int:
        """Deliver `campaign_id`'s events for up to `seconds` or until none is pending;
        returns how many are still pending (any worker or run delivers them later). Events
        this process's `run` was cut off delivering are taken up again at once."""
        await self.store.release_results(self.worker_id)
        with anyio.move_on_after(seconds):
            async with self._client() as client:
                while True:
                    if not await self._round(client, campaign_id):
                        if not await self._pending(campaign_id):
                            return 0
                        await anyio.sleep(min(self.idle_seconds, 0.25))
        return await self._pending(campaign_id)

    async def _pending(self, campaign_id: int) -> int:
        delivery = (await self.store.results_delivery([campaign_id])).get(campaign_id)
        return delivery.pending if delivery else 0

    async def _round(self, client: httpx.AsyncClient, campaign_id: int | None) -> int:
        """Claim a few due events and deliver them side by side; how many were claimed."""
        try:
            events = await self.store.claim_results(
                self.worker_id, self.in_flight, self.lease_seconds, campaign_id
            )
            async with anyio.create_task_group() as group:
                for event in events:
                    group.start_soon(self._deliver, client, event)
            return len(events)
        except Exception as exc:  # never let a bad round end the process: try again later
            log.warning("results_round_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return 0

    async def _deliver(self, client: httpx.AsyncClient, event: OutboxEvent) -> None:
        """One event, on its own: whatever goes wrong sending it is that event's failure
        (recorded, tried again with backoff), never the round's or another event's."""
        try:
            error = await self._post(client, event)
        except Exception as exc:  # e.g. httpx.InvalidURL from a URL stored before it was refused
            error = f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
        # an answer received is recorded even when the process stops meanwhile (else the
        # event would be sent again), for a few seconds at most
        try:
            with anyio.move_on_after(RECORD_SECONDS, shield=True):
                await self._record(event, error)
        except Exception as exc:  # the store is down: the lease lapses, it is sent again
            log.warning(
                "result_record_failed",
                campaign=event.campaign,
                event_id=event.event_id,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )

    async def _record(self, event: OutboxEvent, error: str | None) -> None:
        if error is None:
            await self.store.record_result_delivered(event)
            METRICS.results_pushed.labels(campaign=event.campaign, outcome="delivered").inc()
            return
        died = await self.store.record_result_failed(event, error, random.random())
        outcome = "dead" if died else "failed"
        METRICS.results_pushed.labels(campaign=event.campaign, outcome=outcome).inc()
        if died:
            log.error(
                "result_dead",
                campaign=event.campaign,
                event_id=event.event_id,
                event=event.kind,
                attempts=event.attempts + 1,
                error=error,
                hint="not delivered within 24 hours; it stays in `dialer export`",
            )

    def _tell_unset(self, campaign: str, variable: str) -> None:
        """One line per variable and process: its events wait for a process that has it."""
        if variable not in self._unset_told:
            self._unset_told.add(variable)
            log.error(
                "results_secret_unset",
                campaign=campaign,
                variable=variable,
                hint="its results wait (pending) for a process where it is set",
            )

    async def _post(self, client: httpx.AsyncClient, event: OutboxEvent) -> str | None:
        """POST the event once: None when the receiver took it (2xx), else why not."""
        if not event.webhook.get("url"):  # reloaded without one: dead after its 24 hours
            return "the campaign has no results_webhook any more"
        name = str(event.webhook.get("secret_env", ""))
        secret = self.environ.get(name) if name else None
        if not secret:
            self._tell_unset(event.campaign, name)
            return f"{name} is not set in the delivering process"
        body = json.dumps(event_body(event), separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            EVENT_ID_HEADER: event.event_id,
            SIGNATURE_HEADER: sign(body, secret, int(time.time() * 1000)),
        }
        limit = DELIVERY_TIMEOUT.total_seconds() + 1  # the whole POST, whatever httpx does
        try:
            with anyio.fail_after(limit):
                answer = await client.post(str(event.webhook["url"]), content=body, headers=headers)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"
