"""Serving an ASGI app with uvicorn, hardened against clients that hold connections or take
their time: a cap on open connections kept at accept() (a new one past it closes the
longest-idle connection, or is answered 503 when every one is busy), a deadline for a
request's head, a deadline for the whole request (408), a body size limit (413) and a head
size limit (431; 400 from h11 for a head still growing past it). uvicorn's h11 parser refuses
a malformed or negative Content-Length (400). Should accept() still fail for want of
descriptors, asyncio logs it and tries again a second later: the process keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import resource
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import anyio
import structlog
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

log = structlog.get_logger("dialer.http")

_ACCEPT_BATCH = 128  # asyncio accepts up to this many per wake-up; the kernel queues the rest
_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
    b"content-length: 20\r\nconnection: close\r\n\r\ntoo many connections"
)


@dataclass(frozen=True)
class Allowance:
    """Requests whose path matches `path` may send a body of up to `max_body_bytes` and take up
    to `request_seconds` (a lead list uploaded, an export streamed); every other request keeps
    the listener's limits."""

    path: re.Pattern[str]
    max_body_bytes: int
    request_seconds: float


@dataclass(frozen=True)
class Limits:
    """What one listener allows a client. `max_connections` 0: derived from the process's
    open-files limit (`for_process`)."""

    max_connections: int = 0
    head_seconds: float = 10.0  # from connecting (or the previous answer) to a complete head
    request_seconds: float = 10.0  # from a complete head to the end of the answer
    max_body_bytes: int = 1 << 20  # a call event with its transcript is a few kB
    max_head_bytes: int = 16 << 10
    keep_alive_seconds: int = 5
    shutdown_seconds: int = 3  # in-flight requests get this long when the listener stops
    allowances: tuple[Allowance, ...] = ()

    def for_path(self, path: str) -> tuple[int, float]:
        """(the body size, the seconds) a request of `path` is allowed."""
        for allowance in self.allowances:
            if allowance.path.fullmatch(path):
                return allowance.max_body_bytes, allowance.request_seconds
        return self.max_body_bytes, self.request_seconds

    def for_process(self, listeners: int) -> Limits:
        """These limits with `max_connections` set from RLIMIT_NOFILE when it is 0."""
        if self.max_connections:
            return self
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return replace(self, max_connections=connection_cap(soft, listeners))


def connection_cap(open_files: int, listeners: int) -> int:
    """How many connections one listener keeps open: a quarter of the descriptors the process
    may open, shared among its listeners, from 16 to 1,000. As many again may be closing while
    a flood churns through them; the other half stays for the store, the connections to
    Retell and the logs, so a flood never starves them."""
    if open_files < 0:  # RLIM_INFINITY
        return 1000
    return max(16, min(1000, open_files // (4 * max(1, listeners))))


class _Gate(socket.socket):
    """The listening socket, keeping at most `cap` accepted connections open. asyncio
    accepts a batch of connections before any reaches its protocol, so the cap is kept here,
    at accept(): past it, the longest-idle connection is closed to make room (`evict`), or,
    when every one is busy, the new one is answered 503 and closed at once — its descriptor
    is never held."""

    def __init__(self, listening: socket.socket, cap: int, evict: Callable[[], bool]) -> None:
        family, kind, proto = listening.family, listening.type, listening.proto
        super().__init__(family, kind, proto, fileno=listening.detach())
        self._cap = cap
        self._evict = evict
        self._open: list[socket.socket] = []
        self._shed = 0
        self._told_at = -1e9

    def accept(self) -> tuple[socket.socket, Any]:
        while True:
            conn, address = super().accept()  # BlockingIOError when none waits: asyncio stops
            # asyncio turns Nagle off only for sockets whose proto says TCP, which accepted ones
            # do not: an answer written in two sends (head, then body) would wait ~40 ms for the
            # client's delayed ACK
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._open = [s for s in self._open if s.fileno() != -1]  # closed by their transport
            if len(self._open) < self._cap or self._evict():
                self._open.append(conn)
                return conn, address
            with contextlib.suppress(OSError), conn:
                conn.send(_REFUSED)
            self._tell_shed()

    def _tell_shed(self) -> None:
        self._shed += 1
        now = time.monotonic()
        if now - self._told_at >= 10:  # one line per 10 s under a flood, not one per connection
            log.warning("http_connections_refused", refused=self._shed, open=len(self._open))
            self._told_at, self._shed = now, 0


def _guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline for each request's head: a connection that has
    not sent one within `head_seconds` of connecting (or of its previous answer) is closed.
    uvicorn's keep-alive timer restarts on every byte, so alone it lets a slow client hold a
    connection for ever."""

    class Guarded(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _awaited: object = None  # the cycle that was current when the head deadline was set
        since = 0.0  # when this connection last began waiting for a request

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_deadline()

        def idle(self) -> bool:
            """Open and waiting for a request: safe to close."""
            busy = self.cycle is not None and not self.cycle.response_complete
            return not busy and not self.transport.is_closing()

        def _arm_head_deadline(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._awaited = self.cycle
            self.since = self.loop.time()
            self._deadline = self.loop.call_later(limits.head_seconds, self._head_overdue)

        def _head_overdue(self) -> None:
            if self.cycle is self._awaited and not self.transport.is_closing():
                self.transport.close()  # no request began in time: a slow or silent client

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.idle():
                self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

    return Guarded


def _evictor(state: uvicorn.server.ServerState) -> Callable[[], bool]:
    """Closes the longest-idle connection of a server; False when none is idle."""

    def evict() -> bool:
        idle = [c for c in state.connections if isinstance(c, H11Protocol) and _is_idle(c)]
        if not idle:
            return False
        min(idle, key=lambda c: float(getattr(c, "since", 0.0))).transport.close()
        return True

    return evict


def _is_idle(connection: H11Protocol) -> bool:
    check = getattr(connection, "idle", None)
    return bool(check()) if check is not None else False


def limited(app: ASGIApp, limits: Limits) -> ASGIApp:
    """`app` with the body size limit (413) and the request deadline (408), both answered
    with `connection: close` so the rest of an unwanted body is never read."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        head = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if head + len(scope["raw_path"]) + len(scope["query_string"]) > limits.max_head_bytes:
            # h11 stops a head that grows past the limit, but parses one that came in one piece
            await _refuse(send, 431, "request head too large")
            return
        max_body, seconds = limits.for_path(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > max_body:  # h11 checked its form
            await _refuse(send, 413, "body too large")
            return
        answered = False
        received = 0
        too_large = False

        async def counted() -> Message:  # the body as it arrives, cut off past the limit
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_body:
                too_large = True
                deadline.cancel()
                await anyio.lowlevel.checkpoint()
            return message

        async def tracked(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        with anyio.CancelScope(deadline=anyio.current_time() + seconds) as deadline:
            await app(scope, counted, tracked)
        if deadline.cancelled_caught and not answered:
            await _refuse(send, 413 if too_large else 408, "body too large" if too_large else "")

    return guarded


async def _refuse(send: Send, status: int, text: str) -> None:
    body = (text or "request took too long").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The process watches SIGINT/SIGTERM itself (dialer.app) and stops its listeners."""
        yield


class _ToStructlog(logging.Handler):
    """uvicorn's own warnings (a malformed request, …) as structlog lines, like the rest."""

    def emit(self, record: logging.LogRecord) -> None:
        log.log(max(record.levelno, logging.INFO), "http_server", message=record.getMessage())


def _route_uvicorn_logs() -> None:
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(h, _ToStructlog) for h in errors.handlers):
        errors.addHandler(_ToStructlog(logging.WARNING))
        errors.propagate = False


async def serve(app: ASGIApp, sock: socket.socket, limits: Limits) -> None:
    """Serve `app` on the listening `sock` until cancelled, then stop gracefully: no new
    connections, idle ones closed, requests in flight given `limits.shutdown_seconds`."""
    assert limits.max_connections > 0, "Limits.for_process() first"
    _route_uvicorn_logs()
    config = uvicorn.Config(
        limited(app, limits),
        http=_guarded_protocol(limits),
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        # The gate keeps connections near max_connections (one evicted connection may still
        # be closing as its replacement starts); uvicorn's own 503 is the backstop.
        limit_concurrency=2 * limits.max_connections,
        backlog=_ACCEPT_BATCH,
        timeout_keep_alive=limits.keep_alive_seconds,
        timeout_graceful_shutdown=limits.shutdown_seconds,
        h11_max_incomplete_event_size=limits.max_head_bytes,
    )
    server = _Server(config)
    gate = _Gate(sock, limits.max_connections, _evictor(server.server_state))

    async def run() -> None:
        with anyio.CancelScope(shield=True):  # a cancelled listener still closes cleanly
            await server.serve(sockets=[gate])

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            await anyio.sleep_forever()
        finally:
            server.should_exit = True
