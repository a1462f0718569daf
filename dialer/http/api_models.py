"""The shapes the HTTP API answers with (pydantic: they make its OpenAPI document, and every
answer is checked against them). The campaign it takes is the campaign file's own model
(dialer.inputs.campaign_file.CampaignFile); a lead list is a lead file's CSV, or its YAML
leads as a JSON array (`LeadItem` documents them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dialer.domain.list_edits import LoadReport, RowEdit


class InputProblem(BaseModel):
    """One fault in what a request sent, as `dialer validate` reports a file's."""

    row: int = Field(
        description="CSV and YAML: the line (a CSV header is line 1); a JSON array of leads: "
        "the item, from 1; 0: the body as a whole or a JSON campaign's field"
    )
    field: str
    message: str


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(extra="forbid")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    problems: list[InputProblem] | None = Field(
        None, description="Every problem of the body (422), in order"
    )


class FromNumberView(BaseModel):
    number: str
    calls: int
    connect_rate: float | None
    state: str
    retired_reason: str | None


class StageView(BaseModel):
    count: int = Field(description="Leads that reached the stage")
    rate: float | None = Field(
        description="Share of the variant's leads (dialed) or of its dialed leads (later)"
    )
    ci95: list[float] | None = Field(description="Its 95 % Wilson interval [low, high]")


class VariantView(BaseModel):
    name: str
    funnel: dict[str, StageView] = Field(
        description="leads, dialed, connected, talked_30s, call_successful, and goal when "
        "a goal is set"
    )
    cost_usd: float
    cost_per_goal_usd: float | None = Field(
        description="Spend per lead that reached the compared stage (the goal, else "
        "call_successful)"
    )


class ComparisonView(BaseModel):
    variant: str
    against: str = Field(description="The first variant")
    difference: float = Field(description="variant - against, as a proportion")
    ci95: list[float]
    p_value: float = Field(description="Two-proportion z-test")
    alpha: float = Field(description="The level it is judged at (5 % / (variants - 1))")
    significant: bool


class HeatmapCell(BaseModel):
    state: str
    weekday: str
    hour: int
    calls: int
    connected: int


class ExperimentView(BaseModel):
    """A campaign's experiment: per variant its funnel, each against the first, the verdict."""

    measure: str = Field(description="goal, or call_successful when no goal is set")
    goal: str | None
    variants: list[VariantView]
    comparisons: list[ComparisonView]
    verdict: str
    connect_heatmap: list[HeatmapCell] = Field(
        description="Calls and connected calls by state, the callee's local weekday and hour"
    )


class ResultsDeliveryView(BaseModel):
    """How the campaign's results_webhook events stand."""

    pending: int
    delivered: int
    dead: int
    oldest_pending_age_seconds: float | None
    last_error: str | None


class CampaignView(BaseModel):
    """A campaign as `dialer status --json` shows it, with its settings."""

    name: str
    status: str
    status_reason: str | None
    leads: dict[str, int]
    calls_by_reason: dict[str, int]
    requests_by_outcome: dict[str, int]
    attempts: int
    active_calls: int
    max_concurrent_calls: int
    dials_last_minute: int
    in_doubt: int
    total_duration_ms: int
    spend_usd: float
    spend_pending_usd: float
    budget_usd: float | None
    connected_calls: int
    cost_per_connected_call_usd: float | None
    next_due_at: str | None
    waiting_for_window: int
    skipped_by_reason: dict[str, int]
    waiting_by_reason: dict[str, int]
    next_window_opens_at: str | None
    from_numbers: list[FromNumberView]
    experiment: ExperimentView | None = Field(None, description="When it has variants")

    results_webhook: ResultsDeliveryView | None = Field(
        description="Delivery of its results_webhook's events (null: it has none)"
    )
    settings: dict[str, Any]


class CampaignList(BaseModel):
    campaigns: list[CampaignView]


class LoadOutcome(BaseModel):
    """What adding leads changed (the load report of `dialer load`, as numbers)."""

    campaign: str
    leads: int = Field(description="Leads in the body")
    added: int
    updated: int
    unchanged: int
    number_changed: int
    kept: int
    duplicate: int
    restored: int
    suppressed: int
    summary: str
    warnings: list[str]

    @classmethod
    def of(cls, report: LoadReport) -> LoadOutcome:
        counts = {kind.name.lower(): report.edits.get(kind, 0) for kind in RowEdit}
        return cls(
            campaign=report.campaign,
            leads=report.in_file,
            suppressed=report.suppressed,
            summary=report.summary().replace(" in the file", " in the body"),
            warnings=report.warnings(),
            **counts,
        )


class CampaignWritten(BaseModel):
    created: bool
    campaign: CampaignView
    leads: LoadOutcome | None = Field(None, description="When the body listed leads inline")


class ControlOutcome(BaseModel):
    campaign: str
    status: str
    message: str


class LeadResult(BaseModel):
    """One lead's row, as `dialer export --format jsonl` writes it."""

    lead_id: str
    to_number: str
    state: str
    attempts: int
    last_call_id: str | None
    last_call_status: str | None
    last_disconnection_reason: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None
    duration_ms: int | None
    dynamic_variables: dict[str, Any]
    skip_reason: str | None
    wait_reason: str | None
    call_successful: Any = None
    user_sentiment: Any = None
    call_summary: Any = None
    in_voicemail: Any = None
    recording_url: str | None
    cost_usd: float | None
    last_cost_usd: float | None
    from_number: str | None
    variant: str | None = Field(
        None, description="Its experiment arm (recorded, else assigned); null without one"
    )
    analysis: dict[str, Any]


class ResultsPage(BaseModel):
    items: list[LeadResult]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last one"
    )


class LeadItem(BaseModel):
    """A lead of a JSON lead list: a YAML lead list's keys (alt_number_1, … too)."""

    model_config = ConfigDict(extra="allow")

    to_number: str
    lead_id: str | None = None
    timezone: str | None = None
    state: str | None = None
    consent_at: str | None = None
    metadata: dict[str, Any] | None = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None


class DoNotCallEntryView(BaseModel):
    to_number: str
    reason: str
    source: str | None
    created_at: datetime


class DoNotCallPage(BaseModel):
    items: list[DoNotCallEntryView]
    next_cursor: str | None


class DoNotCallAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[str] = Field(min_length=1, max_length=10_000)
    reason: str = Field("added over the API", min_length=1, max_length=64)
    region: str | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="How to read national numbers (US: (212) 555-0123); else E.164 only",
    )


class DoNotCallAdded(BaseModel):
    added: int = Field(description="Numbers that were not on the list yet")
    numbers: list[str] = Field(description="The numbers sent, as E.164")


class DoNotCallRemoved(BaseModel):
    to_number: str
    removed: bool = Field(description="False: it was not on the list")
