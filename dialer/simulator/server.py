"""HTTP/1.1 for the simulator, on asyncio streams and h11 (the parser httpx itself uses).

A hand-written server rather than an ASGI one because faults need what ASGI cannot express:
closing a connection without an answer after the request was read. Whatever a client sends, it
answers and keeps serving: a request h11 cannot parse (garbage, a bad Content-Length, a body
longer than its Content-Length running into the next request) gets 400 and the connection is
closed; a request the engine fails on gets 500, logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import h11
import httpx
import structlog

from dialer.http.binding import DEFAULT_HOST, listening_socket
from dialer.retell.webhooks import SIGNATURE_HEADER, sign
from dialer.simulator.simulated import SimulatedRetell
from dialer.simulator.wire import Reply

log = structlog.get_logger("dialer.simulator")
_MAX_BODY = 1 << 20


class SimulatorServer:
    """Serves a SimulatedRetell on host:port (port 0 picks a free one)."""

    def __init__(self, engine: SimulatedRetell, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen; a port that cannot be had raises ListenError (one line for the CLI)."""
        sock = listening_socket(self.host, self.port, "--port")
        self._server = await asyncio.start_server(self._serve, sock=sock)
        self.port = sock.getsockname()[1]
        if self.engine.webhook_url:
            self._tasks.add(asyncio.create_task(self._post_webhooks(self.engine.webhook_url)))

    async def _post_webhooks(self, url: str) -> None:
        """Post each call's events when it ends, signed with the API key, as Retell does: an
        event not answered 2xx is tried up to 3 times more."""
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                for event in self.engine.due_webhook_events():
                    body = json.dumps(event)
                    status = 0
                    for attempt in range(4):
                        if attempt:
                            await asyncio.sleep(0.2 * attempt)
                        now_ms = int(time.time() * 1000)  # wall time, as Retell signs
                        signature = sign(body, self.engine.api_key, now_ms)
                        with contextlib.suppress(httpx.HTTPError):
                            response = await client.post(
                                url,
                                content=body,
                                headers={
                                    "content-type": "application/json",
                                    SIGNATURE_HEADER: signature,
                                },
                            )
                            status = response.status_code
                        if 200 <= status < 300:
                            break
                    self.engine.webhooks.append(
                        {
                            "event": event["event"],
                            "call_id": event["call"]["call_id"],
                            "status": status,
                        }
                    )
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_BODY)
        try:
            while True:
                request = await self._read_request(conn, reader)
                if request is None:
                    return
                reply = self._answer(*request)
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                if reply.drop:
                    return
                writer.write(_encode(conn, reply))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            with contextlib.suppress(ConnectionError, h11.LocalProtocolError):
                writer.write(_encode(conn, _bad_request(exc)))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # A connection task is top level: ending it quietly on shutdown is all it needs.
            return
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        try:
            return self.engine.handle(method, target, headers, body)
        except Exception:  # a bug in the simulator: say so, and keep serving
            log.exception("simulator_failed", method=method, target=target)
            return Reply(500, {"status": "error", "message": "Internal server error"})

    @staticmethod
    async def _read_request(
        conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str], bytes] | None:
        method = target = ""
        headers: dict[str, str] = {}
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE:
                    return None
                continue
            if isinstance(event, h11.Request):
                method = event.method.decode()
                target = event.target.decode()
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > _MAX_BODY:
                    raise h11.RemoteProtocolError("body too large", error_status_hint=413)
            elif isinstance(event, h11.EndOfMessage):
                return method, target, headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None


def _bad_request(problem: h11.RemoteProtocolError) -> Reply:
    """What a request h11 refused gets, as Retell's errors read; the connection then closes."""
    status = problem.error_status_hint
    reply = Reply(status, {"status": "error", "message": f"Bad request: {problem}"})
    reply.headers["connection"] = "close"
    return reply


def _encode(conn: h11.Connection, reply: Reply) -> bytes:
    payload = json.dumps(reply.body).encode() if reply.raw is None else reply.raw
    headers = [
        ("content-type", "application/json" if reply.raw is None else "text/html"),
        ("content-length", str(len(payload))),
        *reply.headers.items(),
    ]
    out = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
    out += conn.send(h11.Data(data=payload)) or b""
    out += conn.send(h11.EndOfMessage()) or b""
    return out


@contextlib.contextmanager
def run_simulator_in_thread(engine: SimulatedRetell, port: int = 0) -> Iterator[SimulatorServer]:
    """Serve `engine` from a background thread (for tests whose client is another process)."""
    loop = asyncio.new_event_loop()
    server = SimulatorServer(engine, port=port)
    ready = threading.Event()
    stop: dict[str, Any] = {}

    async def main() -> None:
        await server.start()
        stop["event"] = asyncio.Event()
        ready.set()
        await stop["event"].wait()
        await server.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("simulator did not start")
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop["event"].set)
        thread.join(10)
        loop.close()
