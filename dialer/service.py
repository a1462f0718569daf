"""`/metrics` (Prometheus text) and `/healthz` over plain HTTP, for a worker container."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import structlog

from dialer.metrics import METRICS

log = structlog.get_logger("dialer.service")

# Returns (healthy, details); details are shown as JSON.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


async def _answer(stream: anyio.abc.ByteStream, health: HealthCheck) -> None:
    request = b""
    with anyio.move_on_after(5):
        while b"\r\n\r\n" not in request and len(request) < 8192:
            chunk = await stream.receive(4096)
            if not chunk:
                break
            request += chunk
    parts = request.split(b" ", 2)
    path = parts[1].decode("latin-1") if len(parts) > 1 else ""
    if path == "/metrics":
        status, content_type, body = 200, "text/plain; version=0.0.4", METRICS.render().encode()
    elif path == "/healthz":
        healthy, details = await health()
        status, content_type = (200 if healthy else 503), "application/json"
        body = json.dumps({"ok": healthy, **details}).encode()
    else:
        status, content_type, body = 404, "text/plain", b"not found\n"
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    await stream.send(head.encode() + body)


async def serve_metrics(
    port: int,
    health: HealthCheck,
    host: str = "0.0.0.0",  # noqa: S104 - a container's probes come from outside it
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled. Reports the bound port through `task_status` (port 0: any)."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    bound = int(listener.extra(anyio.abc.SocketAttribute.local_port))  # noqa: S610
    log.info("metrics_listening", port=bound, paths=["/metrics", "/healthz"])
    task_status.started(bound)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                await _answer(stream, health)

    async with listener:
        await listener.serve(handle)
