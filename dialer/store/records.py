"""What goes into the store's verbs and comes out of them: typed rows, requests and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dialer.domain.caller_id import PoolNumber
from dialer.domain.calling_rules import PlaceFilter
from dialer.domain.campaign import (
    DEFAULT_COST_PER_MINUTE,
    FROM_STORE,
    CampaignSettings,
    Pacing,
)
from dialer.domain.claim import CallerIds, ClaimRules
from dialer.domain.pacing import Budget
from dialer.domain.screening import campaign_caps
from dialer.domain.state_rules import CallCap
from dialer.domain.states import AttemptState, CampaignStatus


class NumberBusyError(Exception):
    """A claim would have dialed a number another campaign is dialing at this very moment (the
    store allows one live attempt per number); nothing was claimed. Claim again shortly."""


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    status: CampaignStatus
    status_reason: str | None
    config: dict[str, Any]

    def settings(self) -> CampaignSettings:
        """The campaign's stored settings, typed (its leads live in the leads table)."""
        return CampaignSettings.model_validate(self.config, context=FROM_STORE)


@dataclass(frozen=True)
class Attempt:
    """One attempt to call a lead, as long as it is in flight: claimed (with its dial slot
    `send_at`), in doubt, or placed (with its `call_id`). The one shape the store hands the
    runner, whether it was just claimed or taken over from a worker that died."""

    attempt_id: str
    lead_id: int
    campaign_id: int
    number: int  # 1 for a lead's first attempt
    to_number: str
    zone_key: str
    dynamic_variables: dict[str, str]
    call_metadata: dict[str, Any]
    created_at: datetime
    state: AttemptState = AttemptState.DIALING
    call_id: str | None = None
    send_at: datetime | None = None
    from_number: str | None = None  # None: the campaign's only from_number
    has_next_number: bool = False  # the lead has an alternate number left to try
    voicemail_action: str | None = None  # the voicemail action the create asks for


@dataclass(frozen=True)
class CallerIdPlan:
    """How a claim gives each lead its from-number (dialer.domain.caller_id)."""

    pool: tuple[PoolNumber, ...]
    local_presence: bool = False
    ceiling: int | None = None  # calls per from-number in a rolling day, across campaigns


@dataclass(frozen=True)
class ClaimRequest:
    """What a claim may take: the campaign's ceilings (and the account's), a batch size, the
    lease the claimed attempts get, the places open now, and the caps on calls to one number
    (the campaign's own and those of each state)."""

    pacing: Pacing
    limit: int
    lease_seconds: float
    account_cap: int | None = None
    speed: float = 1.0
    places: PlaceFilter | None = None
    per_number_per_day: int | None = None
    budget_usd: float | None = None
    require_consent: bool = False
    min_recall_gap: timedelta | None = None
    state_caps: Mapping[str, tuple[CallCap, ...]] = field(default_factory=dict)
    caller_ids: CallerIdPlan | None = None
    cost_per_minute: float = DEFAULT_COST_PER_MINUTE  # US$: the budget's prior
    dedupe_across: timedelta | None = None

    @property
    def budget(self) -> Budget | None:
        if self.budget_usd is None:
            return None
        return Budget(self.budget_usd, self.cost_per_minute * 100)

    def rules(self, campaign: str) -> ClaimRules:
        """What decides which due leads are dialed (dialer.domain.claim)."""
        caller = self.caller_ids
        return ClaimRules(
            campaign=campaign,
            places=self.places,
            caps=campaign_caps(self.per_number_per_day, self.min_recall_gap),
            state_caps=self.state_caps,
            require_consent=self.require_consent,
            dedupe_across=self.dedupe_across,
            caller_ids=None if caller is None else CallerIds(caller.local_presence, caller.ceiling),
        )


@dataclass(frozen=True)
class Claim:
    """What a claim got. `retry_in`: seconds until pacing or a hold allows the next claim."""

    attempts: list[Attempt]
    now: datetime
    status: CampaignStatus
    retry_in: float | None = None
    free_slots: int = 0


@dataclass(frozen=True)
class CampaignSummary:
    leads_by_state: dict[str, int]
    calls_by_reason: dict[str, int]  # ended calls, by disconnection reason (else call status)
    attempts: int
    live_attempts: int
    in_doubt: int
    total_duration_ms: int
    next_due_at: datetime | None
    spend_cents: float = 0.0
    # the expected cost of the calls whose cost Retell has not reported yet (live, and ended)
    pending_cents: float = 0.0
    connected_calls: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    waiting_by_reason: dict[str, int] = field(default_factory=dict)
    # create requests by what their answer proved: placed, not_placed, in_doubt (never mixed
    # with the calls' outcomes above)
    requests_by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FromNumberStats:
    """One from-number of a campaign, for `dialer status`."""

    number: str
    calls: int
    connected: int
    retired_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "calls": self.calls,
            "connect_rate": round(self.connected / self.calls, 3) if self.calls else None,
            "state": "retired" if self.retired_reason else "active",
            "retired_reason": self.retired_reason,
        }
