"""Shapes of the Retell API, lenient where Retell may grow: unknown fields and enum values pass."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dialer.domain.calls import CallEnd, from_epoch_ms

TERMINAL_CALL_STATUSES = frozenset({"ended", "error", "not_connected"})


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
