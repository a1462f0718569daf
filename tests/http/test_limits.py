"""The listeners' limits against clients that misbehave, on a real uvicorn server on loopback:
raw sockets send what no well-behaved client would (a bad Content-Length, a head or a body
that never ends, a body too large, more connections than the cap) and each gets a plain
refusal while the server goes on answering everyone else."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dialer.http.server import Limits, connection_cap

from ..helpers import serving

pytestmark = pytest.mark.anyio
TIGHT = Limits(max_connections=4, head_seconds=0.5, request_seconds=0.5, max_body_bytes=1000)


async def _echo(request: Request) -> Response:
    return PlainTextResponse(f"{len(await request.body())} bytes")


async def _slow(_: Request) -> Response:
    await anyio.sleep(3)
    return PlainTextResponse("late")


APP = Starlette(
    routes=[Route("/echo", _echo, methods=["POST"]), Route("/slow", _slow), Route("/", _echo)]
)


@contextmanager
def _raw(port: int) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        yield sock


async def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""

    def read() -> bytes:
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)

    return await anyio.to_thread.run_sync(read)


async def _answer_of(sock: socket.socket) -> bytes:
    answer = b""
    while not answer.endswith(b"late"):
        answer += await anyio.to_thread.run_sync(sock.recv, 65536)
    return answer


async def _still_answers(port: int) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}/echo", content=b"hello")
    assert (answer.status_code, answer.text) == (200, "5 bytes")


@pytest.mark.parametrize(
    ("open_files", "listeners", "cap"),
    [(256, 1, 64), (256, 3, 21), (1024, 2, 128), (40, 1, 16), (1 << 20, 1, 1000), (-1, 2, 1000)],
)
def test_the_connection_cap_leaves_most_descriptors_to_the_rest(
    open_files: int, listeners: int, cap: int
) -> None:
    assert connection_cap(open_files, listeners) == cap


@pytest.mark.parametrize(
    "length",
    [b"-1", b"abc", b"1e3", b"5, 6"],
)
async def test_a_malformed_content_length_is_refused(length: bytes) -> None:
    async with serving(APP, TIGHT) as port:
        with _raw(port) as sock:
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n"
            )
            assert (await _answer(sock)).startswith(b"HTTP/1.1 400 ")
        await _still_answers(port)


async def test_a_body_over_the_limit_is_refused_before_it_is_read() -> None:
    async with serving(APP, TIGHT) as port:
        with _raw(port) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            answer = await _answer(sock)  # no body sent: the answer does not wait for it
        assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer

        async def chunks() -> AsyncIterator[bytes]:  # chunked: no length to check up front
            for _ in range(5):
                yield b"x" * 400

        async with httpx.AsyncClient() as client:
            sent = await client.post(f"http://127.0.0.1:{port}/echo", content=chunks())
        assert sent.status_code == 413
        await _still_answers(port)


@pytest.mark.parametrize("split", [False, True])
async def test_a_head_too_large_is_refused(split: bool) -> None:
    """Whether it arrives at once (h11 then parses it whole) or in pieces (h11 stops it)."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    async with serving(APP, TIGHT) as port:
        with _raw(port) as sock:
            if split:
                for at in range(0, len(head), 4000):
                    sock.sendall(head[at : at + 4000])
                    await anyio.sleep(0.01)
            else:
                sock.sendall(head)
            assert (await _answer(sock))[:13] in (b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")
        await _still_answers(port)


async def test_a_silent_or_slow_head_is_cut_off() -> None:
    async with serving(APP, TIGHT) as port:
        with _raw(port) as silent, _raw(port) as dribbling:
            dribbling.sendall(b"GET / HTTP/1.1\r\n")  # and never the rest
            with anyio.fail_after(5):
                assert await _answer(silent) == b""  # closed without a word
                assert await _answer(dribbling) == b""
        await _still_answers(port)


async def test_a_body_that_never_ends_or_a_slow_answer_gets_408() -> None:
    async with serving(APP, TIGHT) as port:
        with _raw(port) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            with anyio.fail_after(5):
                assert (await _answer(sock)).startswith(b"HTTP/1.1 408 ")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/slow")).status_code == 408
        await _still_answers(port)


async def _served_once(sock: socket.socket) -> None:
    """One request answered on a kept-alive connection: it is then open and idle."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"0 bytes"):
        answer += await anyio.to_thread.run_sync(sock.recv, 65536)


async def test_past_the_cap_idle_connections_make_room_and_busy_ones_refuse() -> None:
    limits = Limits(max_connections=4, request_seconds=10)
    async with serving(APP, limits) as port:
        with _raw(port) as first, _raw(port) as second, _raw(port) as third, _raw(port) as fourth:
            for sock in (first, second, third, fourth):
                await _served_once(sock)
            with _raw(port) as fifth:  # one past the cap: the longest idle (first) is closed
                with anyio.fail_after(5):
                    assert await _answer(first) == b""
                await _served_once(fifth)
                for busy in (second, third, fourth, fifth):  # every connection is busy now
                    busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                await anyio.sleep(0.2)
                with _raw(port) as refused:
                    answer = await _answer(refused)
                assert answer.startswith(b"HTTP/1.1 503 ") and b"too many connections" in answer
                with anyio.fail_after(5):  # the busy ones are answered all the same
                    assert b"late" in await _answer_of(second)
        await _still_answers(port)
