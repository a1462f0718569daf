"""The one decision on a call's end, from what the runner knows of the attempt and the call:
the campaign's steps (dialer.domain.policy.after_call) on its status, reason, number used,
variant and analysis."""

from __future__ import annotations

from datetime import datetime

from dialer.dialing.options import RunOptions
from dialer.domain.caller_id import leaves_message
from dialer.domain.calling_rules import CallingRules
from dialer.domain.campaign import CampaignSettings
from dialer.domain.policy import Decision, after_call
from dialer.domain.routing import LastCall, campaign_steps, reads_analysis
from dialer.domain.variants import assign_variant
from dialer.retell import PhoneCall
from dialer.store import Attempt


def holds_for_analysis(campaign: CampaignSettings) -> bool:
    """Whether a connected call's end waits for its analysis (a step reads it)."""
    return reads_analysis(campaign_steps(campaign))


def decide_call_end(
    campaign: CampaignSettings,
    options: RunOptions,
    attempt: Attempt,
    call: PhoneCall,
    now: datetime,
    rules: CallingRules | None = None,
) -> Decision:
    """The lead's next state; `now` is the store's clock, `rules` the campaign's calling
    rules (a step's named window is placed inside them)."""
    variant = assign_variant(campaign.name, attempt.lead_key, campaign.variants)
    last = LastCall(
        call.call_status,
        call.disconnection_reason,
        attempt.number,
        alternate=attempt.alternate,
        variant=variant.name if variant else None,
        analysis=call.call_analysis,
    )
    return after_call(
        campaign,
        attempt.number,
        attempt.zone_key,
        call.call_status,
        call.disconnection_reason,
        now=now,
        wall_now=options.clock.now(),
        speed=options.speed,
        voicemail_left=leaves_message(attempt.voicemail),
        has_next_number=attempt.has_next_number,
        last=last,
        rules=rules,
        states_key=attempt.states,
    )
