"""`dialer status`: what a campaign looks like now, as one read-model for the table, the JSON
and the live display."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialer.domain.calling_rules import waiting_for_window
from dialer.domain.states import CampaignStatus
from dialer.inputs.rule_book import calling_rules
from dialer.reporting.experiment import Experiment, read_experiment
from dialer.store import CampaignSummary, FromNumberStats, ResultsDelivery, Store


def cost_per_connected_call(summary: CampaignSummary) -> float | None:
    """What one call that reached someone cost, all attempts' spend counted (US dollars)."""
    if not summary.connected_calls:
        return None
    return round(summary.spend_cents / 100 / summary.connected_calls, 4)


@dataclass(frozen=True)
class CampaignStatusView:
    name: str
    status: CampaignStatus
    status_reason: str | None
    summary: CampaignSummary
    waiting_for_window: int
    next_window: datetime | None
    cap: int = 0  # max_concurrent_calls
    dials_last_minute: int = 0
    waiting_for_rules: dict[str, int] = field(default_factory=dict)  # by calling rule
    from_numbers: list[FromNumberStats] = field(default_factory=list)  # with a pool only
    budget_usd: float | None = None
    experiment: Experiment | None = None  # when asked for and the campaign has variants
    # how its results_webhook's events stand, with the age of the oldest pending one (seconds)
    results: ResultsDelivery | None = None
    results_oldest_age: float | None = None

    def results_json(self) -> dict[str, Any] | None:
        """The results webhook's delivery counts; None for a campaign without one."""
        if self.results is None:
            return None
        return {
            "pending": self.results.pending,
            "delivered": self.results.delivered,
            "dead": self.results.dead,
            "oldest_pending_age_seconds": self.results_oldest_age,
            "last_error": self.results.last_error,
        }

    def as_json(self) -> dict[str, Any]:
        summary = self.summary
        return {
            "name": self.name,
            "status": self.status.value,
            "status_reason": self.status_reason,
            "leads": summary.leads_by_state,
            "calls_by_reason": summary.calls_by_reason,
            "requests_by_outcome": summary.requests_by_outcome,
            "attempts": summary.attempts,
            "active_calls": summary.live_attempts,
            "max_concurrent_calls": self.cap,
            "dials_last_minute": self.dials_last_minute,
            "in_doubt": summary.in_doubt,
            "total_duration_ms": summary.total_duration_ms,
            "spend_usd": round(summary.spend_cents / 100, 4),  # known: what Retell reported
            "spend_pending_usd": round(summary.pending_cents / 100, 4),  # expected, not in yet
            "budget_usd": self.budget_usd,
            "connected_calls": summary.connected_calls,
            "cost_per_connected_call_usd": cost_per_connected_call(summary),
            "next_due_at": summary.next_due_at.isoformat() if summary.next_due_at else None,
            "waiting_for_window": self.waiting_for_window,
            "skipped_by_reason": summary.skipped_by_reason,
            "waiting_by_reason": {**self.waiting_for_rules, **summary.waiting_by_reason},
            "next_window_opens_at": self.next_window.isoformat() if self.next_window else None,
            "from_numbers": [n.as_json() for n in self.from_numbers],
            "experiment": self.experiment.as_json() if self.experiment else None,
            "results_webhook": self.results_json(),
        }


async def read_status(
    store: Store, name: str | None, now: datetime, *, experiments: bool = False
) -> list[CampaignStatusView]:
    """Every campaign (or the one named), with calling hours judged at `now`; with
    `experiments`, each experiment's funnels and verdict too (a pass over the campaign's
    attempts: `dialer status` and the API ask, the live dashboards do not)."""
    views = []
    rows = [row for row in await store.campaigns() if name is None or row.name == name]
    delivery = await store.results_delivery([row.id for row in rows])
    for row in rows:
        settings = row.settings()
        results = delivery.get(row.id)
        if results is None and settings.results_webhook is not None:
            results = ResultsDelivery()
        oldest = results.oldest_pending_at if results else None
        waiting, next_window, by_rule = waiting_for_window(
            calling_rules(settings), await store.waiting_by_place(row.id), now
        )
        views.append(
            CampaignStatusView(
                row.name,
                row.status,
                row.status_reason,
                await store.summary(row.id),
                waiting,
                next_window,
                settings.pacing.max_concurrent_calls,
                await store.dials_in_last_minute(row.id),
                by_rule,
                await store.from_number_report(row.id) if settings.has_caller_id_pool else [],
                settings.budget_usd,
                await read_experiment(store, row) if experiments else None,
                results,
                round((now - oldest).total_seconds(), 3) if oldest else None,
            )
        )
    return views
