"""Reviewing a campaign without touching the store: what `dialer validate` reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dialer.domain.hours import never_reason, schedule
from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.leads import LeadScan, iter_leads
from dialer.inputs.suppress import SuppressList, read_suppress_files
from dialer.problems import Problem


@dataclass(frozen=True)
class NeverCallable:
    """Leads sharing a zone key that calling hours never let us call."""

    count: int
    first_line: int
    reason: str


@dataclass
class CampaignReview:
    """What `dialer validate` finds: problems, and warnings that do not stop a run."""

    scan: LeadScan
    suppress: SuppressList
    suppressed_leads: int = 0
    never_callable: list[NeverCallable] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return sorted_problems([*self.suppress.problems, *self.scan.problems])

    @property
    def problem_count(self) -> int:
        return self.scan.problem_count + len(self.suppress.problems)


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.file), p.line))


def never_callable(loaded: CampaignSource, scan: LeadScan) -> list[NeverCallable]:
    """Leads whose calling hours never open (no zone known, or zones that never overlap)."""
    hours = loaded.campaign.calling_hours
    if hours is None:
        return []
    plan = schedule(hours, scan.zone_keys, datetime.now(UTC))
    return [
        NeverCallable(scan.zone_keys[key], scan.zone_first_line[key], never_reason(hours, key))
        for key in sorted(plan.never_keys, key=lambda k: scan.zone_first_line[k])
    ]


def review_campaign(loaded: CampaignSource) -> CampaignReview:
    """Read every lead and suppression file without touching the store."""
    review = CampaignReview(LeadScan(), read_suppress_files(loaded))
    for lead in iter_leads(loaded, review.scan):
        if review.suppress.source_of(lead.to_number) is not None:
            review.suppressed_leads += 1
    review.never_callable = never_callable(loaded, review.scan)
    return review
