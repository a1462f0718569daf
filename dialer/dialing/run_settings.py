"""What a runner derives from its campaign's stored settings — the claim request, the calling
rules, the health rules — and how it follows a `dialer load` that changed them while it runs:
before every claim it compares the stored settings with its own and, when they differ, rebuilds
all of it (calls already placed keep what they were placed with)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from dialer.dialing.claim_plan import claim_request
from dialer.dialing.options import RunOptions
from dialer.domain.call_end import HealthRules
from dialer.domain.calling_rules import CallingRules
from dialer.domain.campaign import CampaignSettings
from dialer.domain.settings_changes import changed_settings
from dialer.inputs.rule_book import calling_rules
from dialer.store import CampaignRow, ClaimRequest


@dataclass(frozen=True)
class RunSettings:
    config: dict[str, Any]  # the stored settings these were built from
    campaign: CampaignSettings
    rules: CallingRules
    health: HealthRules
    claim_request: ClaimRequest  # what every claim of this campaign may take

    @classmethod
    def of(cls, row: CampaignRow, options: RunOptions) -> RunSettings:
        campaign = row.settings()
        rules = calling_rules(campaign)
        request = claim_request(campaign, rules, options)
        return cls(row.config, campaign, rules, HealthRules.of(campaign), request)


def reloaded(
    current: RunSettings,
    row: CampaignRow | None,
    options: RunOptions,
    log: structlog.typing.FilteringBoundLogger,
) -> RunSettings | None:
    """The runner's settings rebuilt from `row` when its stored settings changed (logged once,
    with which settings changed); None when they did not (or the campaign is gone)."""
    if row is None or row.config == current.config:
        return None
    fresh = RunSettings.of(row, options)
    log.info("campaign_settings_reloaded", changed=changed_settings(current.config, row.config))
    return fresh
