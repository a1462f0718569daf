"""What every claim of one campaign may take, worked out once when its runner starts: the
pacing, caps, ceilings and screens of its settings, and its caller-ID pool with each number's
area code and the state the geocoder places it in; and the account's free concurrency."""

from __future__ import annotations

import structlog

from dialer.dialing.options import RunOptions
from dialer.dialing.ports import CallApi, DialingStore
from dialer.domain.caller_id import PoolNumber, area_code
from dialer.domain.calling_rules import CallingRules
from dialer.domain.campaign import CampaignSettings
from dialer.domain.state_rules import caps_by_state
from dialer.phones import number_state
from dialer.retell import RetellError
from dialer.store import CallerIdPlan, ClaimRequest


def claim_request(
    settings: CampaignSettings, rules: CallingRules, options: RunOptions
) -> ClaimRequest:
    return ClaimRequest(
        pacing=settings.pacing,
        limit=options.claim_batch,
        lease_seconds=options.lease_seconds,
        speed=options.speed,
        per_number_per_day=settings.max_attempts_per_number_per_day,
        budget_usd=settings.budget_usd,
        cost_per_minute=settings.cost_per_minute,
        dedupe_across=settings.dedupe_across_campaigns,
        require_consent=settings.require_consent,
        min_recall_gap=settings.min_recall_gap,
        state_caps=caps_by_state(rules.states),
        caller_ids=caller_id_plan(settings),
        campaign=settings.name,
    )


def caller_id_plan(settings: CampaignSettings) -> CallerIdPlan | None:
    """None for a campaign with one from-number and no per-number ceiling (nothing to
    choose, nothing to count)."""
    if not settings.has_caller_id_pool and settings.max_calls_per_number_per_day is None:
        return None
    pool = tuple(PoolNumber(n, area_code(n), number_state(n)) for n in settings.caller_ids)
    return CallerIdPlan(pool, settings.local_presence, settings.max_calls_per_number_per_day)


async def account_cap(
    client: CallApi,
    store: DialingStore,
    campaign_id: int,
    log: structlog.typing.FilteringBoundLogger,
) -> int | None:
    """Never plan above the account's free concurrency (read once at start): what the campaign
    may have live at once as far as the account goes (None: unknown)."""
    try:
        concurrency = await client.get_concurrency()
    except RetellError as exc:
        log.warning("concurrency_unknown", error=str(exc))
        return None
    free = concurrency.free
    if free is None:
        return None
    own = await store.live_attempts(campaign_id)
    log.info("account_concurrency", limit=concurrency.concurrency_limit, free=free)
    return max(1, free + own)
