"""The simulated workspace's account: whose key it is, its agents, Retell LLMs, conversation
flows and phone numbers, answered in Retell's shapes (get-api-key-info, get-agent,
get-retell-llm, get-conversation-flow, get-phone-number) for preflights like `dialer doctor`.

By default the workspace has one agent, `agent_simulated`, whose Retell LLM greets
`{{first_name}}`, and owns every E.164 number with that agent bound for outbound calls. A
configuration (`dialer simulator --accounts FILE`, or `Workspace.from_config`) adds agents, LLMs
and flows in the shapes Retell's get-* endpoints answer; once it lists `phone_numbers`, the
workspace owns those numbers only. Creating calls ignores all of this, as before.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from dialer.simulator.wire import from_json_file

DEFAULT_AGENT_ID = "agent_simulated"
DEFAULT_LLM_ID = "llm_simulated"
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MODIFIED_MS = 1_767_225_600_000  # 2026-01-01: when the simulated account was last edited
# config key → (the id field of its items, the get-* path that answers one)
_KINDS = {
    "agents": ("agent_id", "get-agent"),
    "retell_llms": ("llm_id", "get-retell-llm"),
    "conversation_flows": ("conversation_flow_id", "get-conversation-flow"),
    "phone_numbers": ("phone_number", "get-phone-number"),
}


def _default_agent(agent_id: str) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "agent_name": "Simulated renewal agent",
        "version": 1,
        "is_published": True,
        "response_engine": {"type": "retell-llm", "llm_id": DEFAULT_LLM_ID, "version": 1},
        "voice_id": "11labs-Adrian",
        "language": "en-US",
        "voicemail_option": {"action": {"type": "hangup"}},
        # what the simulator's calls report in custom_analysis_data
        "post_call_analysis_data": [
            {"type": "boolean", "name": "renewed", "description": "Did the callee renew?"},
            {
                "type": "enum",
                "name": "plan",
                "description": "The plan the callee chose.",
                "choices": ["basic", "plus", "premium"],
            },
            {
                "type": "boolean",
                "name": "callback_requested",
                "description": "Did the callee ask to be called back?",
            },
            {"type": "string", "name": "notes", "description": "Anything else the callee said."},
        ],
    }


_DEFAULT_LLM: dict[str, Any] = {
    "llm_id": DEFAULT_LLM_ID,
    "version": 1,
    "is_published": True,
    "model": "gpt-4.1",
    "start_speaker": "agent",
    "begin_message": "Hi {{first_name}}, this is a quick call about your plan renewal.",
    "general_prompt": (
        "You are a friendly agent calling {{first_name}} about renewing their plan. "
        "It is {{current_time}}. Ask whether they want to renew, and which plan."
    ),
}


@dataclass
class Workspace:
    """What the simulated account holds, by id. `phone_numbers` None: every E.164 number is
    owned, with the default agent bound for outbound calls."""

    default_agent_id: str = DEFAULT_AGENT_ID
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    retell_llms: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversation_flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    phone_numbers: dict[str, dict[str, Any]] | None = None
    key_info: dict[str, Any] = field(
        default_factory=lambda: {
            "org_id": "org_simulated",
            "org_name": "Simulated workspace",
            "api_key_name": "simulator",
        }
    )

    def __post_init__(self) -> None:
        self.agents.setdefault(self.default_agent_id, _default_agent(self.default_agent_id))
        self.retell_llms.setdefault(DEFAULT_LLM_ID, copy.deepcopy(_DEFAULT_LLM))

    @classmethod
    def from_config(cls, config: object, default_agent_id: str = DEFAULT_AGENT_ID) -> Workspace:
        """A workspace from `{"agents": [...], "retell_llms": [...], "conversation_flows":
        [...], "phone_numbers": [...]}`, each a list of objects in Retell's shapes (what its
        get-* endpoints answer). Raises ValueError naming the first problem."""
        if not isinstance(config, Mapping):
            raise ValueError("the accounts file is a JSON object (agents, retell_llms, …)")
        unknown = sorted(set(config) - set(_KINDS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(_KINDS)})")
        found = {kind: _by_id(kind, config[kind]) for kind in _KINDS if kind in config}
        for number in found.get("phone_numbers", {}):
            if not _E164.fullmatch(number):
                raise ValueError(f"phone_numbers: {number!r} is not an E.164 number")
        return cls(
            default_agent_id=default_agent_id,
            agents=found.get("agents", {}),
            retell_llms=found.get("retell_llms", {}),
            conversation_flows=found.get("conversation_flows", {}),
            phone_numbers=found.get("phone_numbers"),
        )

    @classmethod
    def from_file(cls, path: Path, default_agent_id: str = DEFAULT_AGENT_ID) -> Workspace:
        """`from_config` of a JSON file; ValueError (naming the file) when it cannot be used."""
        return from_json_file(path, lambda config: cls.from_config(config, default_agent_id))

    def answer(self, path: str) -> tuple[int, dict[str, Any]] | None:
        """(status, body) for a GET of one of the workspace's paths; None for other paths."""
        if path == "/get-api-key-info":
            return 200, dict(self.key_info)
        name, _, raw_id = path.strip("/").partition("/")
        kind = next((k for k, (_, route) in _KINDS.items() if route == name), None)
        if kind is None or not raw_id or "/" in raw_id:
            return None
        item_id = unquote(raw_id)
        if kind == "phone_numbers":
            return self._phone_number(item_id)
        held: dict[str, dict[str, Any]] = getattr(self, kind)
        if item_id not in held:
            noun = kind[:-1].replace("_", " ")
            return 404, _error(f"{noun} {item_id} not found")
        return 200, _shaped(kind, held[item_id])

    def _phone_number(self, number: str) -> tuple[int, dict[str, Any]]:
        if not _E164.fullmatch(number):
            return 400, _error(f"phone_number must be in E.164 format, got {number}")
        if self.phone_numbers is None:
            owned: dict[str, Any] = {
                "phone_number": number,
                "outbound_agents": [{"agent_id": self.default_agent_id, "weight": 1}],
                "inbound_agents": [{"agent_id": self.default_agent_id, "weight": 1}],
            }
            return 200, _shaped("phone_numbers", owned)
        if number not in self.phone_numbers:
            return 404, _error(f"phone number {number} not found")
        return 200, _shaped("phone_numbers", self.phone_numbers[number])


def _by_id(kind: str, items: object) -> dict[str, dict[str, Any]]:
    id_field = _KINDS[kind][0]
    if not isinstance(items, list):
        raise ValueError(f"{kind} is a list of objects")
    found: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{kind}[{index}] is not an object")
        item_id = item.get(id_field)
        if not isinstance(item_id, str) or not item_id:
            raise ValueError(f"{kind}[{index}]: {id_field} is missing")
        found[item_id] = item
    return found


def _shaped(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """`item` with the fields Retell's answer always has, where the configuration left them out."""
    required: dict[str, Any] = {"last_modification_timestamp": _MODIFIED_MS}
    if kind in ("agents", "conversation_flows"):
        required["version"] = 0
    if kind == "agents":
        required["voice_id"] = "11labs-Adrian"
    if kind == "phone_numbers":
        required["phone_number_type"] = "retell-twilio"
    return {**required, **copy.deepcopy(item)}


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "message": message}
