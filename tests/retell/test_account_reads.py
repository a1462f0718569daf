"""The account reads a preflight makes (get-api-key-info, get-agent, get-retell-llm,
get-conversation-flow, get-phone-number): dialer's client and the official SDK (strict
validation) against the simulator over HTTP, and the client against answers of older or newer
shapes."""

from __future__ import annotations

import json

import httpx
import pytest
import retell

from dialer.retell import RetellClient, RetellStatusError
from dialer.retell.settings import ApiKey
from dialer.simulator import SimulatedRetell, SimulatorServer, Workspace

pytestmark = pytest.mark.anyio

FLOW = {
    "conversation_flow_id": "conversation_flow_a",
    "version": 4,
    "start_speaker": "agent",
    "global_prompt": "You call {{first_name}}.",
    "nodes": [
        {
            "id": "greet",
            "type": "conversation",
            "instruction": {"type": "prompt", "text": "Hi {{first_name}}"},
        }
    ],
}
ACCOUNT = {
    "agents": [
        {
            "agent_id": "agent_flow",
            "response_engine": {
                "type": "conversation-flow",
                "conversation_flow_id": "conversation_flow_a",
            },
        }
    ],
    "conversation_flows": [FLOW],
    "phone_numbers": [
        {
            "phone_number": "+14155550100",
            "outbound_agents": [{"agent_id": "agent_flow", "weight": 1}],
        },
        {"phone_number": "+14155550101"},
    ],
}


async def test_the_client_reads_the_account_the_simulator_serves() -> None:
    engine = SimulatedRetell(workspace=Workspace.from_config(ACCOUNT))
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
    ):
        info = await client.get_api_key_info()
        default = await client.get_agent("agent_simulated")
        llm = await client.get_retell_llm("llm_simulated")
        flow_agent = await client.get_agent("agent_flow", version=4)
        flow = await client.get_conversation_flow("conversation_flow_a", version=4.0)
        bound = await client.get_phone_number("+14155550100")
        bare = await client.get_phone_number("+14155550101")
        with pytest.raises(RetellStatusError) as unknown_number:
            await client.get_phone_number("+14155550199")
        with pytest.raises(RetellStatusError) as unknown_agent:
            await client.get_agent("agent_nope")
    assert info.org_name == "Simulated workspace"
    assert default.response_engine is not None and default.response_engine.llm_id == "llm_simulated"
    assert default.voicemail_action == "hangup"
    assert "{{first_name}}" in (llm.general_prompt or "")
    assert flow_agent.response_engine is not None
    assert flow_agent.response_engine.engine_id == "conversation_flow_a"
    assert flow.nodes and flow.nodes[0]["instruction"]["text"] == "Hi {{first_name}}"
    assert [b.agent_id for b in bound.outbound] == ["agent_flow"]
    assert bare.outbound == [] and bare.phone_number_type == "retell-twilio"
    assert unknown_number.value.status == 404 and unknown_agent.value.status == 404
    # the number's `+` reaches the simulator as it is; each endpoint is counted by its name
    assert engine.requests["get-phone-number"] == 3
    assert engine.requests["get-agent"] == 3


async def test_the_official_sdk_accepts_the_simulator_s_account_answers() -> None:
    engine = SimulatedRetell(workspace=Workspace.from_config(ACCOUNT))
    async with SimulatorServer(engine) as server:
        sdk = retell.AsyncRetell(
            api_key="sim-key", base_url=server.url, max_retries=0, _strict_response_validation=True
        )
        identity = await sdk.identity.retrieve()
        agent = await sdk.agent.retrieve("agent_simulated")
        llm = await sdk.llm.retrieve("llm_simulated")
        flow_agent = await sdk.agent.retrieve("agent_flow")
        flow = await sdk.conversation_flow.retrieve("conversation_flow_a")
        number = await sdk.phone_number.retrieve("+14155550100")
        with pytest.raises(retell.NotFoundError):
            await sdk.agent.retrieve("agent_nope")
        with pytest.raises(retell.NotFoundError):
            await sdk.phone_number.retrieve("+14155550199")
        await sdk.close()
    assert identity.org_id == "org_simulated"
    assert agent.agent_id == "agent_simulated" and llm.llm_id == "llm_simulated"
    assert flow_agent.response_engine.type == "conversation-flow"
    assert flow.conversation_flow_id == "conversation_flow_a"
    assert number.outbound_agents and number.outbound_agents[0].agent_id == "agent_flow"


async def test_older_and_newer_shapes_are_read() -> None:
    """An older account binds one agent with `outbound_agent_id`; fields Retell adds tomorrow
    pass through."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/get-phone-number/+14155550100"
        body = {
            "phone_number": "+14155550100",
            "phone_number_type": "custom",
            "outbound_agent_id": "agent_old",
            "outbound_agent_version": 2,
            "something_new": {"x": 1},
        }
        return httpx.Response(200, content=json.dumps(body))

    transport = httpx.MockTransport(answer)
    async with RetellClient(ApiKey("k"), "http://retell.test", transport=transport) as client:
        number = await client.get_phone_number("+14155550100")
    assert [(b.agent_id, b.agent_version) for b in number.outbound] == [("agent_old", 2)]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ([], "the accounts file is a JSON object"),
        ({"agent": []}, "unknown key 'agent' (known: agents, retell_llms"),
        ({"agents": {}}, "agents is a list of objects"),
        ({"agents": ["x"]}, "agents[0] is not an object"),
        ({"retell_llms": [{"general_prompt": "hi"}]}, "retell_llms[0]: llm_id is missing"),
        ({"phone_numbers": [{"phone_number": "415-555-0100"}]}, "'415-555-0100' is not an E.164"),
    ],
)
def test_a_bad_accounts_configuration_is_named(config: object, words: str) -> None:
    with pytest.raises(ValueError, match=r".") as refused:
        Workspace.from_config(config)
    assert words in str(refused.value)
