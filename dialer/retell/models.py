"""Shapes of the Retell API, lenient where Retell may grow: unknown fields and enum values pass."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dialer.domain.calls import TERMINAL_CALL_STATUSES, CallEnd, from_epoch_ms


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class PhoneCall(_Lenient):
    """A phone-call object. `call_status` and `disconnection_reason` are plain strings on
    purpose: a value Retell adds tomorrow must not crash a running campaign."""

    call_id: str
    call_status: str
    agent_id: str | None = None
    agent_version: int | None = None
    call_type: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    metadata: Any = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    start_timestamp: int | None = None
    end_timestamp: int | None = None
    duration_ms: int | None = None
    disconnection_reason: str | None = None
    call_analysis: dict[str, Any] | None = None
    call_cost: dict[str, Any] | None = None  # amounts in cents; may come after the end
    recording_url: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.call_status in TERMINAL_CALL_STATUSES

    def call_end(self) -> CallEnd:
        """What dialer records of this call once it is terminal."""
        return CallEnd(
            call_id=self.call_id,
            call_status=self.call_status,
            disconnection_reason=self.disconnection_reason,
            started_at=from_epoch_ms(self.start_timestamp),
            ended_at=from_epoch_ms(self.end_timestamp),
            duration_ms=self.duration_ms,
            analysis=self.call_analysis,
            cost_cents=self.cost_cents,
            recording_url=self.recording_url,
        )

    @property
    def cost_cents(self) -> float | None:
        """What the call cost (`call_cost.combined_cost`, in cents), once Retell says."""
        cost = (self.call_cost or {}).get("combined_cost")
        return float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None


class CreateCallRequest(BaseModel):
    """The body of POST /v2/create-phone-call."""

    model_config = ConfigDict(frozen=True)

    from_number: str
    to_number: str
    override_agent_id: str | None = None
    override_agent_version: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    retell_llm_dynamic_variables: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str | None = None
    # per-call overrides, e.g. {"agent": {"voicemail_option": {"action": {"type": "hangup"}}}}
    agent_override: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ListCallsPage(_Lenient):
    items: list[PhoneCall]
    has_more: bool = False
    pagination_key: str | None = None
    total: int | None = None


class Concurrency(_Lenient):
    concurrency_limit: int | None = None
    current_concurrency: int | None = None
    base_concurrency: int | None = None
    purchased_concurrency: int | None = None
    reserved_inbound_concurrency: int | None = None

    @property
    def free(self) -> int | None:
        """Outbound calls the account can start now, or None when Retell does not say."""
        if self.concurrency_limit is None or self.current_concurrency is None:
            return None
        reserved = self.reserved_inbound_concurrency or 0
        return max(0, self.concurrency_limit - reserved - self.current_concurrency)


# -- the account, as a preflight reads it (dialer doctor) -------------------------------------


class ApiKeyInfo(_Lenient):
    """GET /get-api-key-info: newer than Retell's OpenAPI document (retell-api.md, "Newer than
    the OpenAPI document"); this shape is the official SDK's (6.2.13, IdentityRetrieveResponse),
    every field optional here."""

    org_id: str | None = None
    org_name: str | None = None
    api_key_name: str | None = None


class ResponseEngine(_Lenient):
    """`retell-llm` (llm_id), `conversation-flow` (conversation_flow_id) or `custom-llm`."""

    type: str
    llm_id: str | None = None
    conversation_flow_id: str | None = None
    llm_websocket_url: str | None = None
    version: float | None = None

    @property
    def engine_id(self) -> str | None:
        return self.llm_id or self.conversation_flow_id or self.llm_websocket_url


class Agent(_Lenient):
    """GET /get-agent/{agent_id} (AgentResponse): what a preflight needs of it."""

    agent_id: str
    version: int | None = None
    is_published: bool | None = None
    agent_name: str | None = None
    response_engine: ResponseEngine | None = None
    voicemail_option: dict[str, Any] | None = None  # {"action": {"type": …}}; None: off
    post_call_analysis_data: list[Any] | None = None

    @property
    def voicemail_action(self) -> str | None:
        action = (self.voicemail_option or {}).get("action")
        kind = action.get("type") if isinstance(action, dict) else None
        return str(kind) if kind is not None else None


class RetellLlm(_Lenient):
    """GET /get-retell-llm/{llm_id}: the prompts whose {{variables}} the leads supply."""

    llm_id: str
    version: int | None = None
    general_prompt: str | None = None
    begin_message: str | None = None
    states: list[dict[str, Any]] | None = None
    default_dynamic_variables: dict[str, Any] | None = None


class ConversationFlow(_Lenient):
    """GET /get-conversation-flow/{conversation_flow_id}: a global prompt and nodes whose
    instructions hold {{variables}}."""

    conversation_flow_id: str
    version: int | None = None
    global_prompt: str | None = None
    nodes: list[dict[str, Any]] | None = None
    default_dynamic_variables: dict[str, Any] | None = None


class BoundAgent(_Lenient):
    """AgentWeight: an agent a number binds, with the share of calls it takes."""

    agent_id: str
    agent_version: int | str | None = None
    weight: float | None = None


class PhoneNumber(_Lenient):
    """GET /get-phone-number/{phone_number} (PhoneNumberResponse)."""

    phone_number: str
    phone_number_type: str | None = None
    nickname: str | None = None
    outbound_agents: list[BoundAgent] | None = None
    # the older single binding: gone from the current document, still sent by older accounts
    outbound_agent_id: str | None = None
    outbound_agent_version: int | None = None
    allowed_outbound_country_list: list[str] | None = None

    @property
    def outbound(self) -> list[BoundAgent]:
        """Every agent that may dial from this number."""
        if self.outbound_agents:
            return list(self.outbound_agents)
        if self.outbound_agent_id:
            return [
                BoundAgent(
                    agent_id=self.outbound_agent_id, agent_version=self.outbound_agent_version
                )
            ]
        return []
