"""The client against the simulator over real HTTP (no httpx mocks), and the official SDK
against the simulator (which keeps the simulator honest about Retell's shapes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import retell

from dialer.retell import (
    Ambiguous,
    CreateCallRequest,
    Fatal,
    NotPlaced,
    Placed,
    RetellClient,
    RetellStatusError,
)
from dialer.retell.settings import ApiKey
from dialer.simulator import Faults, OutcomeRule, SimulatedRetell, SimulatorServer

pytestmark = pytest.mark.anyio

FROM = "+14155550100"
TO = "+14155550123"


def request(**overrides: object) -> CreateCallRequest:
    data: dict[str, object] = {
        "from_number": FROM,
        "to_number": TO,
        "metadata": {"attempt_id": "a-1"},
        "idempotency_key": "a-1",
    }
    data.update(overrides)
    return CreateCallRequest.model_validate(data)


@pytest.fixture
async def sim() -> AsyncIterator[tuple[SimulatedRetell, SimulatorServer]]:
    engine = SimulatedRetell(speed=500, seed=1)
    async with SimulatorServer(engine) as server:
        yield engine, server


async def test_placed_and_idempotent(sim: tuple[SimulatedRetell, SimulatorServer]) -> None:
    engine, server = sim
    async with RetellClient(ApiKey("sim-key"), server.url) as client:
        first = await client.create_phone_call(request())
        again = await client.create_phone_call(request())
    assert isinstance(first, Placed) and isinstance(again, Placed)
    assert first.call.call_id == again.call.call_id
    assert len(engine.calls) == 1


async def test_rejections_are_not_placed_and_permanent(
    sim: tuple[SimulatedRetell, SimulatorServer],
) -> None:
    engine, server = sim
    engine.script.rules.append(OutcomeRule(["reject_422"], number="+14155550199"))
    async with RetellClient(ApiKey("sim-key"), server.url) as client:
        bad_number = await client.create_phone_call(
            request(to_number="4155550123", idempotency_key="b")
        )
        rejected = await client.create_phone_call(
            request(to_number="+14155550199", idempotency_key="c")
        )
    assert isinstance(bad_number, NotPlaced) and bad_number.permanent and bad_number.status == 400
    assert isinstance(rejected, NotPlaced) and rejected.permanent and rejected.status == 422
    assert engine.calls == {}


async def test_bad_key_is_fatal_and_never_shown(
    sim: tuple[SimulatedRetell, SimulatorServer],
) -> None:
    _, server = sim
    key = ApiKey("super-secret-key-123")
    async with RetellClient(key, server.url) as client:
        outcome = await client.create_phone_call(request())
        with pytest.raises(RetellStatusError) as caught:
            await client.get_call("call_x")
        assert "super-secret" not in repr(client)
    assert isinstance(outcome, Fatal) and outcome.status == 401
    assert "super-secret" not in str(caught.value) and "super-secret" not in repr(key)
    assert "super-secret" not in str(outcome)


async def test_429_carries_retry_after() -> None:
    engine = SimulatedRetell(speed=1, concurrency_limit=1)
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
    ):
        await client.create_phone_call(request())
        busy = await client.create_phone_call(
            request(to_number="+14155550124", idempotency_key="x")
        )
    assert isinstance(busy, NotPlaced) and busy.status == 429 and busy.retry_after == 1.0
    assert not busy.permanent


async def test_connection_refused_is_not_placed() -> None:
    async with RetellClient(ApiKey("k"), "http://127.0.0.1:9") as client:
        outcome = await client.create_phone_call(request())
    assert isinstance(outcome, NotPlaced) and not outcome.permanent


@pytest.mark.parametrize("mode", ["drop", "5xx-after-create", "timeout"])
async def test_ambiguous_creates_may_have_made_a_call(mode: str) -> None:
    faults = (
        Faults(create_ambiguous=1.0) if mode != "timeout" else Faults(slow=1.0, slow_seconds=1.0)
    )
    engine = SimulatedRetell(speed=1, faults=faults, seed=2 if mode == "drop" else 3)
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url, create_timeout=0.3) as client,
    ):
        outcome = await client.create_phone_call(request())
        found = (
            await client.find_calls_by_metadata("attempt_id", "a-1") if mode != "timeout" else []
        )
    assert isinstance(outcome, Ambiguous)
    assert len(engine.calls) == 1  # the call exists although the answer was lost
    if mode != "timeout":
        assert [c.call_id for c in found] == list(engine.calls)


async def test_5xx_before_create_is_ambiguous_but_makes_no_call() -> None:
    engine = SimulatedRetell(faults=Faults(create_5xx=1.0))
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
    ):
        outcome = await client.create_phone_call(request())
        found = await client.find_calls_by_metadata("attempt_id", "a-1")
    assert isinstance(outcome, Ambiguous) and outcome.status == 500
    assert found == [] and engine.calls == {}


async def test_reads_retry_transient_faults() -> None:
    engine = SimulatedRetell(speed=500, seed=4)
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url, read_attempts=8) as client,
    ):
        placed = await client.create_phone_call(request())
        assert isinstance(placed, Placed)
        engine.faults.read_5xx = 0.3
        engine.faults.read_drop = 0.2
        for _ in range(10):
            call = await client.get_call(placed.call.call_id)
            assert call.call_id == placed.call.call_id
        with pytest.raises(RetellStatusError) as missing:
            engine.faults.read_5xx = engine.faults.read_drop = 0.0
            await client.get_call("call_unknown")
    assert missing.value.status == 404


async def test_calls_progress_to_a_terminal_status(
    sim: tuple[SimulatedRetell, SimulatorServer],
) -> None:
    engine, server = sim
    engine.script.rules.append(OutcomeRule(["user_hangup"], number=TO))
    async with RetellClient(ApiKey("sim-key"), server.url) as client:
        placed = await client.create_phone_call(
            request(retell_llm_dynamic_variables={"name": "Ann"})
        )
        assert isinstance(placed, Placed) and placed.call.call_status == "registered"
        seen = {placed.call.call_status}
        for _ in range(200):
            call = await client.get_call(placed.call.call_id)
            seen.add(call.call_status)
            if call.is_terminal:
                break
            await anyio.sleep(0.005)
        concurrency = await client.get_concurrency()
    assert call.call_status == "ended" and call.disconnection_reason == "user_hangup"
    assert "ongoing" in seen
    assert call.duration_ms and call.end_timestamp and call.start_timestamp
    assert call.retell_llm_dynamic_variables == {"name": "Ann"}
    assert call.metadata == {"attempt_id": "a-1"}
    assert concurrency.concurrency_limit == 20


async def test_official_sdk_talks_to_the_simulator() -> None:
    engine = SimulatedRetell(speed=1000, seed=5, rules=[OutcomeRule(["agent_hangup"], number=TO)])
    async with SimulatorServer(engine) as server:
        sdk = retell.AsyncRetell(api_key="sim-key", base_url=server.url, max_retries=0)
        call = await sdk.call.create_phone_call(
            from_number=FROM,
            to_number=TO,
            metadata={"attempt_id": "sdk-1"},
            retell_llm_dynamic_variables={"first_name": "Ann"},
            idempotency_key="sdk-1",
            agent_override={"agent": {"voicemail_option": {"action": {"type": "hangup"}}}},
        )
        assert call.call_status == "registered" and call.agent_version == 1
        # the voicemail option dialer sends per attempt, in the SDK's own shape
        assert engine.calls[call.call_id].agent_override == {
            "agent": {"voicemail_option": {"action": {"type": "hangup"}}}
        }
        for _ in range(400):
            got = await sdk.call.retrieve(call.call_id)
            if got.call_status in ("ended", "error", "not_connected"):
                break
        assert got.call_status == "ended"
        assert got.disconnection_reason == "agent_hangup"
        assert got.recording_url  # a read of the call has it; list items do not
        for _ in range(400):  # as with Retell, the analysis comes a while after the end
            got = await sdk.call.retrieve(call.call_id)
            if got.call_analysis is not None:
                break
        assert got.call_analysis is not None
        listed = await sdk.call.list(
            filter_criteria={
                "metadata": [{"key": "attempt_id", "op": "eq", "type": "string", "value": "sdk-1"}]
            },
            limit=10,
        )
        assert [item.call_id for item in listed.items] == [call.call_id]
        assert listed.has_more is False
        concurrency = await sdk.concurrency.retrieve()
        assert concurrency.concurrency_limit == 20
        with pytest.raises(retell.NotFoundError):
            await sdk.call.retrieve("call_missing")
        with pytest.raises(retell.BadRequestError):
            await sdk.call.create_phone_call(from_number=FROM, to_number="12345")
        with pytest.raises(retell.UnprocessableEntityError):
            await sdk.call.create_phone_call(
                from_number=FROM,
                to_number=TO,
                retell_llm_dynamic_variables={"n": 1},  # type: ignore[dict-item]
            )
        bad = retell.AsyncRetell(api_key="nope", base_url=server.url, max_retries=0)
        with pytest.raises(retell.AuthenticationError):
            await bad.call.retrieve(call.call_id)
        await sdk.close()
        await bad.close()


async def test_seed_era_list_endpoint_answers_an_array(
    sim: tuple[SimulatedRetell, SimulatorServer],
) -> None:
    _, server = sim
    async with RetellClient(ApiKey("sim-key"), server.url) as client:
        await client.create_phone_call(request())
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": "Bearer sim-key"}
    ) as http:
        answer = await http.get("/v2/list-calls", params={"limit": 5})
    assert answer.status_code == 200 and isinstance(answer.json(), list) and len(answer.json()) == 1


async def test_a_backoff_ends_when_the_failing_endpoint_answers_again() -> None:
    """The first answer after a fault wakes whoever waits it out; other endpoints' answers
    do not."""
    creates = iter([503, 201])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/get-concurrency":
            return httpx.Response(200, json={"concurrency_limit": 5})
        status = next(creates)
        body = {"call_id": "c1", "call_status": "registered"} if status == 201 else {}
        return httpx.Response(status, json=body)

    request = CreateCallRequest(from_number="+14155550100", to_number="+14155550101")
    transport = httpx.MockTransport(answer)
    async with RetellClient(ApiKey("k"), "http://retell.test", transport=transport) as client:
        await client.create_phone_call(request)  # 503: creates are failing
        woke: list[bool] = []
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:

                async def wait() -> None:
                    woke.append(await client.answered_again("create-phone-call", 60))

                group.start_soon(wait)
                await anyio.sleep(0.1)
                await client.get_concurrency()  # another endpoint: not a sign creates are back
                await anyio.sleep(0.1)
                assert woke == []
                await client.create_phone_call(request)  # 201
        assert woke == [True]
        assert await client.answered_again("create-phone-call", 0.01) is False  # no fault now
