"""What a call's end does beyond its lead: whether the from-number that made it is worn out
(number health) and whether the campaign's calls fail at an abnormal rate (the failure-spike
breaker). One verdict, decided from the windows of latest calls the store reads in the same
transaction that records the end, so a number is retired, or a campaign paused, by one writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialer.domain.breaker import Outcome, is_failure, trip_reason
from dialer.domain.caller_id import retire_reason
from dialer.domain.campaign import CampaignSettings, FailureBreaker, NumberHealth


@dataclass(frozen=True)
class HealthRules:
    """The campaign's rules a call's end is judged by."""

    number_health: NumberHealth | None = None  # with a caller-ID pool only
    breaker: FailureBreaker | None = None

    @classmethod
    def of(cls, settings: CampaignSettings) -> HealthRules:
        pool = settings.has_caller_id_pool
        return cls(settings.number_health if pool else None, settings.breaker)

    def reads_number(self, reason: str | None, from_number: str | None) -> bool:
        """Whether this end calls for the from-number's latest calls (only a failure can wear
        a number out)."""
        health = self.number_health
        return health is not None and from_number is not None and reason in health.failures

    def reads_campaign(self, call_status: str, reason: str | None) -> bool:
        """Whether this end calls for the campaign's latest calls (only a failure trips)."""
        return self.breaker is not None and is_failure(self.breaker, call_status, reason)


@dataclass(frozen=True)
class HealthVerdict:
    retire_reason: str | None = None  # retire the from-number, for this campaign
    pause_reason: str | None = None  # pause the campaign: a failure spike


def health_verdict(
    rules: HealthRules,
    number_latest: Sequence[str | None],
    campaign_latest: Sequence[Outcome],
) -> HealthVerdict:
    """The verdict on the from-number's and the campaign's latest calls (newest first; empty
    when not read)."""
    retire = retire_reason(rules.number_health, number_latest) if number_latest else None
    spike = trip_reason(rules.breaker, campaign_latest) if rules.breaker else None
    return HealthVerdict(retire, spike)
