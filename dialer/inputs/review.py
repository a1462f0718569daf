"""Reviewing a campaign without touching the store: what `dialer validate` reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dialer.domain.calling_rules import CallingRules, schedule
from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.leads import LeadScan, iter_leads
from dialer.inputs.problems import Problem
from dialer.inputs.rule_book import calling_rules
from dialer.inputs.suppress import SuppressList, read_suppress_files


@dataclass(frozen=True)
class NeverCallable:
    """Leads sharing a place that the calling rules never let us call."""

    count: int
    first_line: int
    reason: str


@dataclass(frozen=True)
class NotCallableNow:
    """Leads that may not be called now for one reason, and when the first of them may."""

    reason: str
    count: int
    first_line: int
    first_opening: datetime


@dataclass
class CampaignReview:
    """What `dialer validate` finds: problems, and warnings that do not stop a run."""

    scan: LeadScan
    suppress: SuppressList
    suppressed_leads: int = 0
    never_callable: list[NeverCallable] = field(default_factory=list)
    not_callable_now: list[NotCallableNow] = field(default_factory=list)
    rules: CallingRules = field(default_factory=CallingRules)

    @property
    def problems(self) -> list[Problem]:
        return sorted_problems([*self.suppress.problems, *self.scan.problems])

    @property
    def problem_count(self) -> int:
        return self.scan.problem_count + len(self.suppress.problems)


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.file), p.line))


def preflight(
    rules: CallingRules, scan: LeadScan, now: datetime
) -> tuple[list[NeverCallable], list[NotCallableNow]]:
    """Which leads can never be called (and why), and which cannot be called at `now`, per
    reason, with the first opening."""
    plan = schedule(rules, scan.places, now)
    first_line = scan.place_first_line
    never = [
        NeverCallable(scan.places[place], first_line[place], reason)
        for place, reason in sorted(plan.never.items(), key=lambda item: first_line[item[0]])
    ]
    by_reason: dict[str, NotCallableNow] = {}
    for place, waiting in plan.waiting.items():
        seen = by_reason.get(waiting.reason)
        count, line = scan.places[place], first_line[place]
        if seen is None:
            by_reason[waiting.reason] = NotCallableNow(
                waiting.reason, count, line, waiting.opens_at
            )
        else:
            by_reason[waiting.reason] = NotCallableNow(
                waiting.reason,
                seen.count + count,
                min(seen.first_line, line),
                min(seen.first_opening, waiting.opens_at),
            )
    return never, sorted(by_reason.values(), key=lambda n: (-n.count, n.reason))


def review_campaign(loaded: CampaignSource, now: datetime | None = None) -> CampaignReview:
    """Read every lead and suppression file without touching the store."""
    review = CampaignReview(LeadScan(), read_suppress_files(loaded))
    for lead in iter_leads(loaded, review.scan):
        if review.suppress.source_of(lead.to_number) is not None:
            review.suppressed_leads += 1
    if review.problem_count:
        return review  # nothing to plan: the problems stop the campaign
    review.rules = calling_rules(loaded.campaign)
    review.never_callable, review.not_callable_now = preflight(
        review.rules, review.scan, now or datetime.now(UTC)
    )
    return review
