"""The simulator answers the call endpoints, and the account reads `dialer doctor` makes, as
Retell's own OpenAPI document says (`../shared/retell-openapi.yaml`): requests generated from
the document by schemathesis, and valid ones made on purpose (creates that place calls, reads of
calls in every state, list pages, agents, LLMs, flows and numbers), each answer validated
against the document's response schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance

from dialer.simulator import SimulatedRetell, SimulatorServer, Workspace, run_simulator_in_thread

from ..openapi import SPEC_PATH, document

AUTH = {"Authorization": "Bearer sim-key"}
OPERATIONS = {
    ("POST", "/v2/create-phone-call"),
    ("GET", "/v2/get-call/{call_id}"),
    ("POST", "/v3/list-calls"),
    ("GET", "/get-concurrency"),
    ("GET", "/get-agent/{agent_id}"),
    ("GET", "/get-retell-llm/{llm_id}"),
    ("GET", "/get-conversation-flow/{conversation_flow_id}"),
    ("GET", "/get-phone-number/{phone_number}"),
}
# The demo campaign's account (`dialer simulator --accounts campaigns/spring-retell.json`), and
# a conversation-flow agent beside it.
SPRING_ACCOUNT = Path(__file__).resolve().parents[2] / "campaigns" / "spring-retell.json"
FLOW = {
    "conversation_flow_id": "conversation_flow_renewal",
    "version": 2,
    "start_speaker": "agent",
    "start_node_id": "greet",
    "model_choice": {"type": "cascading", "model": "gpt-4.1"},
    "global_prompt": "You call {{first_name}} for {{company}}.",
    "default_dynamic_variables": {"company": "Acme"},
    "nodes": [
        {
            "id": "greet",
            "type": "conversation",
            "instruction": {"type": "prompt", "text": "Greet {{first_name}}."},
            "edges": [],
        },
        {
            "id": "email",
            "type": "extract_dynamic_variables",
            "variables": [{"type": "string", "name": "email", "description": "Their email."}],
        },
        {"id": "bye", "type": "end"},
    ],
}
FLOW_AGENT = {
    "agent_id": "agent_flow",
    "response_engine": {
        "type": "conversation-flow",
        "conversation_flow_id": "conversation_flow_renewal",
    },
}
GENERATED = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def operations() -> dict[str, Any]:
    document()  # skips when the document is absent
    schema = schemathesis.openapi.from_path(str(SPEC_PATH))
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in OPERATIONS:
            found[operation.path] = operation
    assert len(found) == len(OPERATIONS)
    return found


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SimulatorServer, list[str]]]:
    """A simulator with calls in every state: 150 created, sped up so most have ended."""
    workspace = Workspace.from_file(SPRING_ACCOUNT)
    workspace.conversation_flows[FLOW["conversation_flow_id"]] = FLOW
    workspace.agents[FLOW_AGENT["agent_id"]] = FLOW_AGENT
    engine = SimulatedRetell(speed=2000, seed=3, concurrency_limit=1000, workspace=workspace)
    with run_simulator_in_thread(engine) as served:
        ids = []
        for i in range(150):
            body = {"from_number": "+14155550100", "to_number": f"+1415556{i:04d}"}
            reply = engine.handle(
                "POST",
                "/v2/create-phone-call",
                {"authorization": AUTH["Authorization"]},
                _json(body),
            )
            ids.append(reply.body["call_id"])
        yield served, ids


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode()


def _conforms(operation: Any, url: str, **case: Any) -> None:
    made = operation.Case(headers=dict(AUTH), **case)
    made.validate_response(made.call(base_url=url), checks=[response_schema_conformance])


@pytest.mark.parametrize("path", sorted(p for _m, p in OPERATIONS))
def test_generated_requests_get_answers_the_document_allows(
    path: str, operations: dict[str, Any], server: tuple[SimulatorServer, list[str]]
) -> None:
    served, _ids = server
    operation = operations[path]

    @GENERATED
    @given(operation.as_strategy())
    def check(case: Any) -> None:
        case.headers = {**(case.headers or {}), **AUTH}
        case.validate_response(case.call(base_url=served.url), checks=[response_schema_conformance])

    check()


def test_valid_requests_get_answers_the_document_allows(
    operations: dict[str, Any], server: tuple[SimulatorServer, list[str]]
) -> None:
    served, ids = server
    create = operations["/v2/create-phone-call"]
    _conforms(
        create,
        served.url,
        body={
            "from_number": "+14155550100",
            "to_number": "+14155559999",
            "metadata": {"attempt_id": "a-1"},
            "retell_llm_dynamic_variables": {"first_name": "Ann"},
        },
    )
    get_call = operations["/v2/get-call/{call_id}"]
    for call_id in ids[::10]:
        _conforms(get_call, served.url, path_parameters={"call_id": call_id})
    listing = operations["/v3/list-calls"]
    enum = {"type": "enum", "op": "in", "value": ids}
    _conforms(listing, served.url, body={"filter_criteria": {"call_id": enum}, "limit": 1000})
    _conforms(listing, served.url, body={"limit": 20})  # a first page, with a next one
    ended = {"type": "enum", "op": "in", "value": ["ended", "error", "not_connected"]}
    span = {"type": "range", "op": "bt", "value": [0, 2**53]}
    _conforms(
        listing,
        served.url,
        body={"filter_criteria": {"call_status": ended, "start_timestamp": span}, "limit": 50},
    )


def test_account_reads_get_answers_the_document_allows(
    operations: dict[str, Any], server: tuple[SimulatorServer, list[str]]
) -> None:
    served, _ids = server
    agent = operations["/get-agent/{agent_id}"]
    for agent_id in ("agent_simulated", "agent_spring_renewal", "agent_flow"):
        _conforms(agent, served.url, path_parameters={"agent_id": agent_id})
    _conforms(agent, served.url, path_parameters={"agent_id": "agent_unknown"})  # 404
    llm = operations["/get-retell-llm/{llm_id}"]
    for llm_id in ("llm_simulated", "llm_spring_renewal"):
        _conforms(llm, served.url, path_parameters={"llm_id": llm_id})
    flow = operations["/get-conversation-flow/{conversation_flow_id}"]
    _conforms(
        flow, served.url, path_parameters={"conversation_flow_id": "conversation_flow_renewal"}
    )
    _conforms(flow, served.url, path_parameters={"conversation_flow_id": "conversation_flow_x"})
    number = operations["/get-phone-number/{phone_number}"]
    for phone_number in ("+14155550100", "+14155550199", "not-a-number"):  # 200, 404, 400
        _conforms(number, served.url, path_parameters={"phone_number": phone_number})
