"""A campaign's caller-ID pool as a claim takes it: every from-number with its area code and
the state the geocoder places it in."""

from __future__ import annotations

from dialer.domain.caller_id import PoolNumber, area_code
from dialer.domain.campaign import CampaignSettings
from dialer.phones import number_state
from dialer.store import CallerIdPlan


def caller_id_plan(settings: CampaignSettings) -> CallerIdPlan | None:
    """None for a campaign with one from-number and no per-number ceiling (nothing to
    choose, nothing to count)."""
    if not settings.has_caller_id_pool and settings.max_calls_per_number_per_day is None:
        return None
    pool = tuple(PoolNumber(n, area_code(n), number_state(n)) for n in settings.caller_ids)
    return CallerIdPlan(pool, settings.local_presence, settings.max_calls_per_number_per_day)
