"""The in-memory store's rows: the columns of the real tables that its verbs read or write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialer.domain.calling_rules import Place
from dialer.domain.states import (
    DUE_LEAD_STATES,
    LIVE_ATTEMPT_STATES,
    UNFINISHED_LEAD_STATES,
    AttemptState,
    CampaignStatus,
    LeadState,
)
from dialer.store import CampaignRow


@dataclass
class CampaignState:
    id: int
    name: str
    config: dict[str, Any]
    status: CampaignStatus = CampaignStatus.ACTIVE
    status_reason: str | None = None
    next_dial_at: datetime | None = None
    hold_until: datetime | None = None
    breaker_since: datetime | None = None
    spend_cents: float = 0.0
    billed_calls: int = 0
    billed_ms: int = 0
    places: list[Place] | None = None
    retired: dict[str, str] = field(default_factory=dict)  # from-number -> reason

    def row(self) -> CampaignRow:
        return CampaignRow(self.id, self.name, self.status, self.status_reason, self.config)


@dataclass
class LeadRow:
    id: int
    campaign_id: int
    to_number: str
    zones: str
    states: str
    dynamic_variables: dict[str, str]
    call_metadata: dict[str, Any]
    next_attempt_at: datetime
    consent_at: datetime | None = None
    alternates: list[dict[str, str]] | None = None
    number_index: int = 0
    from_number: str | None = None
    state: LeadState = LeadState.PENDING
    attempts: int = 0
    last_attempt_id: str | None = None
    skip_reason: str | None = None
    wait_reason: str | None = None
    removed_at: datetime | None = None
    lead_key: str = ""
    next_plan: dict[str, Any] | None = None

    @property
    def lead_id(self) -> int:  # what dialer.store.records.attempt_for_lead reads
        return self.id

    @property
    def place(self) -> Place:
        return Place(self.zones, self.states)

    @property
    def due(self) -> bool:
        return self.state in DUE_LEAD_STATES

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED_LEAD_STATES


@dataclass
class AttemptRow:
    id: str
    lead_id: int
    campaign_id: int
    number: int
    to_number: str
    from_number: str | None
    created_at: datetime
    claimed_by: str | None
    lease_expires_at: datetime | None
    state: AttemptState = AttemptState.DIALING
    voicemail_action: str | None = None
    variant: str | None = None
    call_id: str | None = None
    call_status: str | None = None
    disconnection_reason: str | None = None
    api_error: str | None = None
    analysis: dict[str, Any] | None = None
    cost_cents: float | None = None
    recording_url: str | None = None
    sent_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    settled_at: datetime | None = None
    settled_order: int = 0  # ties of settled_at broken by the order of the writes

    @property
    def live(self) -> bool:
        return self.state in LIVE_ATTEMPT_STATES
