"""What a worker serves over plain HTTP: `/metrics` (Prometheus text), `/healthz` (liveness)
and `/readyz` (readiness) for its container, and Retell's webhook events on a port of their
own. One small server with limits against abusive clients: head and body sizes, 10 s per
request, one request per connection."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import anyio.abc
import structlog

from dialer.dashboard import PAGE, StatusSource, status_json
from dialer.metrics import CONTENT_TYPE, METRICS
from dialer.retell.webhooks import SIGNATURE_HEADER, BadEventError, CallEvent, parse_event, verify

log = structlog.get_logger("dialer.service")

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024  # a call event with its transcript is a few kB


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})


Handler = Callable[[Request], Awaitable[Response]]
# Returns (healthy, details); details are shown as JSON.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Content Too Large",
    503: "Service Unavailable",
}


async def _read_request(stream: anyio.abc.ByteStream) -> Request | Response:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return Response(413)
        chunk = await stream.receive(4096)
        if not chunk:
            return Response(400)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return Response(400)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return Response(400)
    if length > MAX_BODY:
        return Response(413)
    while len(body) < length:
        chunk = await stream.receive(65536)
        if not chunk:
            return Response(400)
        body += chunk
    return Request(parts[0], parts[1].partition("?")[0], headers, body[:length])


async def serve_http(
    port: int,
    handler: Handler,
    host: str = "0.0.0.0",  # noqa: S104 - a container's probes and Retell's events come from outside
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled, one request per connection. Reports the bound port through
    `task_status` (port 0: any)."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    task_status.started(int(listener.extra(anyio.abc.SocketAttribute.local_port)))  # noqa: S610

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                with anyio.move_on_after(10):
                    request = await _read_request(stream)
                    response = request if isinstance(request, Response) else await handler(request)
                    reason = _REASONS.get(response.status, "")
                    lines = [f"HTTP/1.1 {response.status} {reason}"]
                    lines += [f"{name}: {value}" for name, value in response.headers.items()]
                    lines += [f"Content-Length: {len(response.body)}", "Connection: close", ""]
                    await stream.send("\r\n".join(lines).encode() + b"\r\n" + response.body)

    async with listener:
        await listener.serve(handle)


def metrics_handler(
    health: HealthCheck, ready: HealthCheck | None = None, status: StatusSource | None = None
) -> Handler:
    checks = {"/healthz": health, "/readyz": ready or health}

    async def answer(request: Request) -> Response:
        if request.path == "/metrics":
            return Response(200, METRICS.render().encode(), {"Content-Type": CONTENT_TYPE})
        if status is not None and request.path in ("/", "/status.json"):
            if request.path == "/":
                return Response(200, PAGE.encode(), {"Content-Type": "text/html; charset=utf-8"})
            return Response(200, status_json(await status()), {"Content-Type": "application/json"})
        check = checks.get(request.path)
        if check is not None:
            healthy, details = await check()
            body = json.dumps({"ok": healthy, **details}).encode()
            return Response(200 if healthy else 503, body, {"Content-Type": "application/json"})
        return Response(404, b"not found\n")

    return answer


async def serve_metrics(
    port: int,
    health: HealthCheck,
    ready: HealthCheck | None = None,
    status: StatusSource | None = None,
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """`/metrics`, `/healthz`, `/readyz` and (with `status`) the dashboard at `/` until
    cancelled."""
    async with anyio.create_task_group() as group:
        bound = await group.start(serve_http, port, metrics_handler(health, ready, status))
        paths = ["/metrics", "/healthz", "/readyz", *(["/"] if status else [])]
        log.info("http_listening", port=bound, paths=paths)
        task_status.started(bound)


def webhook_handler(
    api_key: str,
    on_event: Callable[[CallEvent], Awaitable[None]],
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Handler:
    """Retell's events: any path, POST, signed with the API key. A bad signature gets 401 (and
    is logged); a body this version does not understand gets 400; an accepted event 204 once
    it is recorded."""

    async def answer(request: Request) -> Response:
        if request.method != "POST":
            return Response(404, b"not found\n")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify(request.body.decode("utf-8", "replace"), api_key, signature, now_ms()):
            log.warning("webhook_refused", reason="bad or stale signature", path=request.path)
            return Response(401)
        try:
            event = parse_event(request.body)
        except BadEventError as exc:
            log.warning("webhook_refused", reason=str(exc))
            return Response(400, str(exc).encode())
        await on_event(event)
        return Response(204)

    return answer


async def serve_webhooks(
    port: int,
    api_key: str,
    on_event: Callable[[CallEvent], Awaitable[None]],
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Retell's webhook events until cancelled."""
    async with anyio.create_task_group() as group:
        bound = await group.start(serve_http, port, webhook_handler(api_key, on_event))
        log.info("webhooks_listening", port=bound)
        task_status.started(bound)
