"""The simulator's HTTP server keeps serving whatever a client sends: a list-calls body of the
wrong types (found by a schema fuzz against Retell's OpenAPI document) gets 400 as Retell
answers it, bytes h11 cannot parse get 400 and a closed connection, a failure inside the
engine gets 500 — and the next request is answered as usual."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from dialer.simulator import SimulatedRetell, SimulatorServer, run_simulator_in_thread

AUTH = {"Authorization": "Bearer sim-key"}


@pytest.fixture
def simulator() -> Iterator[tuple[SimulatedRetell, SimulatorServer]]:
    engine = SimulatedRetell(seed=4)
    with run_simulator_in_thread(engine) as server:
        with httpx.Client(base_url=server.url, headers=AUTH) as client:  # a call to filter
            call = {"from_number": "+14155550100", "to_number": "+14155550123"}
            assert client.post("/v2/create-phone-call", json=call).status_code == 201
        yield engine, server


def _raw(server: SimulatorServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "body",
    [
        b'{"skip": [null, null]}',
        b'{"skip": -1}',
        b'{"skip": true}',
        b'{"limit": "10"}',
        b'{"limit": 0}',
        b'{"sort_order": "sideways"}',
        b'{"pagination_key": 5}',
        b'{"skip": 1, "pagination_key": "p1"}',
        b'{"include_total": "yes"}',
        b'{"filter_criteria": {"call_status": {"value": 5}}}',
        b'{"filter_criteria": {"call_id": {"type": "enum", "value": 7}}}',
        b'{"filter_criteria": {"metadata": 3}}',
        b'{"filter_criteria": {"start_timestamp": {"op": "bt", "value": ["soon", 1]}}}',
        b"[1, 2]",
        b"{",
    ],
)
def test_a_list_request_of_the_wrong_shape_gets_400_and_the_next_one_is_answered(
    simulator: tuple[SimulatedRetell, SimulatorServer], body: bytes
) -> None:
    _, server = simulator
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        refused = client.post("/v3/list-calls", content=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["status"] == "error"
        assert client.post("/v3/list-calls", json={"limit": 5}).status_code == 200


def test_bytes_h11_cannot_parse_get_400_and_the_server_keeps_serving(
    simulator: tuple[SimulatedRetell, SimulatorServer],
) -> None:
    _, server = simulator
    head = b"POST /v3/list-calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sim-key\r\n"
    longer = _raw(server, head + b"Content-Length: 2\r\n\r\n{}and then some\r\n\r\n")
    first, _, rest = longer.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 ")  # the declared two bytes were a request
    assert b"HTTP/1.1 400 " in rest  # what followed was not
    for garbage in [
        b"GARBAGE\r\n\r\n",
        head + b"Content-Length: -5\r\n\r\n",
        head + b"Content-Length: many\r\n\r\n",
        head + b"Content-Length: 2000000\r\n\r\n" + b"x" * 1_100_000,
    ]:
        answer = _raw(server, garbage)
        assert answer[:13] in (b"HTTP/1.1 400 ", b"HTTP/1.1 413 "), answer[:200]
        assert b"connection: close" in answer
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        assert client.get("/get-concurrency").status_code == 200


def test_a_failure_inside_the_engine_is_a_500_not_a_silent_hang_up(
    simulator: tuple[SimulatedRetell, SimulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, server = simulator

    def broken(*_: object) -> object:
        raise RuntimeError("a bug in the simulator")

    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        monkeypatch.setattr(engine, "_route", broken)
        assert client.get("/get-concurrency").status_code == 500
        monkeypatch.undo()
        assert client.get("/get-concurrency").status_code == 200


@pytest.mark.parametrize(
    ("version", "status", "recorded"),
    [(7, 201, 7), ("prod", 201, "prod"), (-1, 400, None), ("v2", 400, None), (True, 400, None)],
)
def test_a_create_may_name_the_agent_version_and_the_call_reports_it(
    simulator: tuple[SimulatedRetell, SimulatorServer],
    version: object,
    status: int,
    recorded: object,
) -> None:
    engine, server = simulator
    body = {
        "from_number": "+14155550100",
        "to_number": "+14155550124",
        "override_agent_id": "agent_short",
        "override_agent_version": version,
    }
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        answer = client.post("/v2/create-phone-call", json=body)
        assert answer.status_code == status, answer.text
        if status == 201:
            call = answer.json()
            assert (call["agent_id"], call["agent_version"]) == ("agent_short", recorded)
            (kept,) = [c for c in engine.records()["calls"] if c["call_id"] == call["call_id"]]
            assert (kept["agent_id"], kept["agent_version"]) == ("agent_short", recorded)
