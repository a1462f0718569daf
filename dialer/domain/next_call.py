"""What one call uses: the campaign's agent and variables, the lead's variant's instead, and a
step's plan for this attempt instead of both (a step's override wins over the variant's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dialer.domain.campaign import CampaignSettings
from dialer.domain.variants import Variant


@dataclass(frozen=True)
class CallSettings:
    agent_id: str | None = None  # override_agent_id (None: the number's bound agent)
    agent_version: int | None = None  # override_agent_version (None: the agent's current)
    dynamic_variables: dict[str, str] = field(default_factory=dict)  # over the lead's own
    voicemail: dict[str, Any] | None = None  # agent_override.agent.voicemail_option


def call_settings(
    settings: CampaignSettings,
    variant: Variant | None,
    plan: Mapping[str, Any] | None,
    voicemail: dict[str, Any] | None,
) -> CallSettings:
    """The create's overrides for an attempt: `voicemail` is the campaign's option for it."""
    plan = plan or {}
    agent_id, version = settings.agent_id, None
    if variant is not None:
        agent_id = variant.agent_id or agent_id
        version = variant.agent_version
    if plan.get("agent_id"):
        agent_id, version = str(plan["agent_id"]), None  # another agent: its own version
    if plan.get("agent_version") is not None:
        version = int(plan["agent_version"])
    variables = {
        **(variant.dynamic_variables if variant is not None else {}),
        **{str(k): str(v) for k, v in (plan.get("dynamic_variables") or {}).items()},
    }
    return CallSettings(agent_id, version, variables, plan.get("voicemail", voicemail))
