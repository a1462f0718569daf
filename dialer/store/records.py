"""What goes into the store's verbs and comes out of them: typed rows, requests and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from dialer.domain.caller_id import PoolNumber
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
    # the create's agent_override.agent.voicemail_option (None: the agent's own setting)
    voicemail: dict[str, Any] | None = None
    lead_key: str = ""  # the lead's id in its list (what its variant is assigned by)
    states: str = ""  # the lead's states key (state rules)
    alternate: bool = False  # placed to one of the lead's alternate numbers
    plan: dict[str, Any] | None = None  # what a step said this attempt uses (leads.next_plan)
    variant: str | None = None  # the lead's variant, worked out when the attempt is taken

    @property
    def voicemail_action(self) -> str | None:
        """The voicemail action the create asks for (hangup, static_text, prompt)."""
        return None if self.voicemail is None else str(self.voicemail["action"]["type"])


def attempt_for_lead(lead: Any, campaign_id: int, **attempt: Any) -> Attempt:
    """An Attempt of `lead` (a row with the lead's zones, variables, metadata, alternates and
    number index), with the attempt's own fields given — one way to build it, whether it was
    just claimed or taken over from a worker that died."""
    return Attempt(
        lead_id=lead.lead_id,
        campaign_id=campaign_id,
        zone_key=lead.zones,
        dynamic_variables=lead.dynamic_variables,
        call_metadata=lead.call_metadata,
        has_next_number=len(lead.alternates or []) > lead.number_index,
        lead_key=lead.lead_key,
        states=lead.states,
        alternate=lead.number_index > 0,
        plan=lead.next_plan,
        **attempt,
    )


@dataclass(frozen=True)
class CallerIdPlan:
    """How a claim gives each lead its from-number (dialer.domain.caller_id)."""

    pool: tuple[PoolNumber, ...]
    local_presence: bool = False
    ceiling: int | None = None  # calls per from-number in a rolling day, across campaigns


@dataclass(frozen=True)
class ClaimRequest:
    """What a campaign's claims may take, built once per campaign: its ceilings, a batch size,
    the lease the claimed attempts get, its budget, and what decides which due leads are
    dialed (caps on calls to one number — the campaign's own and each state's —, consent,
    dedupe across campaigns, its caller-ID pool). What changes from one claim to the next (the
    places open now, the account's free concurrency) goes to `Store.claim` beside it."""

    pacing: Pacing
    limit: int
    lease_seconds: float
    speed: float = 1.0
    per_number_per_day: int | None = None
    budget_usd: float | None = None
    require_consent: bool = False
    min_recall_gap: timedelta | None = None
    state_caps: Mapping[str, tuple[CallCap, ...]] = field(default_factory=dict)
    caller_ids: CallerIdPlan | None = None
    cost_per_minute: float = DEFAULT_COST_PER_MINUTE  # US$: the budget's prior
    dedupe_across: timedelta | None = None
    campaign: str = ""  # its name (a dedupe skip names the other campaign)

    @cached_property
    def budget(self) -> Budget | None:
        if self.budget_usd is None:
            return None
        return Budget(self.budget_usd, self.cost_per_minute * 100)

    @cached_property
    def rules(self) -> ClaimRules:
        """What decides which due leads are dialed (dialer.domain.claim), the places open
        now left to each claim."""
        caller = self.caller_ids
        return ClaimRules(
            campaign=self.campaign,
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
