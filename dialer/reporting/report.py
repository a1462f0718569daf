"""`dialer report NAME`: one self-contained HTML page (plotly's script inlined: it works
offline) with the charts a campaign manager reads at a glance — leads by final state, calls by
outcome, connect rate by the callee's local hour and by time zone, attempts per lead, call
lengths, spend over time. Every chart has axis titles with units and its sample size (in its
title and on each bar); a rate from fewer than 10 calls is greyed and says so. Everything
shown is escaped: reasons and zone names are data (escaped before plotly, which renders a
subset of HTML, links included, in labels), and the charts' data reach the page as JSON that
cannot close its script element."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dialer.domain.calls import CallStatus
from dialer.domain.pacing import spend_words
from dialer.domain.timezones import zone
from dialer.reporting.experiment import (
    Experiment,
    experiment_charts,
    funnel_html,
    read_experiment,
)
from dialer.store import CampaignRow, CampaignSummary, Store

CONNECTED = CallStatus.ENDED  # Retell's status of a call that reached someone


@dataclass
class ReportData:
    """What the charts need, gathered in one pass over the campaign's attempts."""

    summary: CampaignSummary
    attempts_per_lead: dict[int, int]
    by_local_hour: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_zone: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    call_seconds: list[float] = field(default_factory=list)
    spend: list[tuple[datetime, float]] = field(default_factory=list)  # (when, cents)
    experiment: Experiment | None = None  # when the campaign has variants

    def add(self, fact: dict[str, Any]) -> None:
        if fact["call_status"] is None:
            return  # never placed: no call to chart
        connected = fact["call_status"] == CONNECTED
        first_zone = (fact["zone_key"] or "").split("|")[0]
        when: datetime = fact["created_at"]
        hour = when.astimezone(zone(first_zone)).hour if first_zone else when.hour
        for counts in (self.by_local_hour[hour], self.by_zone[first_zone or "unknown"]):
            counts[0] += 1
            counts[1] += connected
        if connected and fact["duration_ms"]:
            self.call_seconds.append(fact["duration_ms"] / 1000)
        if fact["cost_cents"] and fact["settled_at"] is not None:
            self.spend.append((fact["settled_at"], float(fact["cost_cents"])))


async def gather(store: Store, campaign: CampaignRow) -> ReportData:
    data = ReportData(await store.summary(campaign.id), await store.attempts_per_lead(campaign.id))
    async for fact in store.report_attempt_facts(campaign.id):
        data.add(fact)
    data.experiment = await read_experiment(store, campaign)
    return data


FEW_CALLS = 10  # a rate from fewer calls than this is shown greyed, marked as such
_BAR = "#3b7dd8"
_FEW = "#c4c4c4"


def _label(value: object) -> str:
    """A category as plotly may show it: escaped, because plotly renders a subset of HTML
    (links included) in labels, and reasons and zones are data from outside. Quotes stay:
    plotly decodes only `&amp;`, `&lt;`, `&gt;` (and numeric references) back to text."""
    return html.escape(str(value), quote=False)


def _count_bars(
    labels: Sequence[object], counts: list[int], x_title: str, y_title: str
) -> go.Figure:
    """Bars of counts, each labelled with its count."""
    shown = [_label(x) for x in labels]
    return go.Figure(
        go.Bar(
            x=shown,
            y=counts,
            text=[f"{n:,}" for n in counts],
            textposition="auto",
            textangle=0,
            marker_color=_BAR,
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        ),
        layout={
            "xaxis": {"title": {"text": x_title}, "type": "category"},
            "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        },
    )


def _rate_bars(labels: Sequence[object], tallies: list[list[int]], x_title: str) -> go.Figure:
    """Connect rates in %, each bar labelled with its sample size; a rate from fewer than
    FEW_CALLS calls is greyed and says so, so that 3 calls at 100 % read as what they are."""
    shown = [_label(x) for x in labels]
    rates = [100 * connected / calls if calls else 0.0 for calls, connected in tallies]
    few = [calls < FEW_CALLS for calls, _ in tallies]
    text = [
        f"n={calls:,}" + (f" (<{FEW_CALLS})" if small else "")
        for (calls, _), small in zip(tallies, few, strict=True)
    ]
    hover = [
        f"{label}: {connected:,} of {calls:,} calls connected ({rate:.1f} %)"
        + (f"; fewer than {FEW_CALLS} calls, too few to compare" if small else "")
        for label, (calls, connected), rate, small in zip(shown, tallies, rates, few, strict=True)
    ]
    return go.Figure(
        go.Bar(
            x=shown,
            y=rates,
            text=text,
            textposition="auto",
            textangle=0,
            marker_color=[_FEW if small else _BAR for small in few],
            hovertext=hover,
            hoverinfo="text",
        ),
        layout={
            "xaxis": {"title": {"text": x_title}, "type": "category"},
            "yaxis": {"title": {"text": "connected (% of calls)"}, "range": [0, 105]},
        },
    )


@dataclass(frozen=True)
class Chart:
    title: str
    figure: go.Figure
    note: str = ""  # how to read it, shown under the chart


def figures(data: ReportData) -> list[Chart]:
    """Every chart, in reading order: axis titles with units, the sample size in the title
    and on each bar."""
    states = data.summary.leads_by_state
    outcomes = Counter(data.summary.calls_by_reason).most_common()
    hours = sorted(data.by_local_hour)
    zones = sorted(data.by_zone, key=lambda z: -data.by_zone[z][0])
    placed = sum(calls for calls, _ in data.by_zone.values())
    spend = sorted(data.spend)
    running, total = [], 0.0
    for _when, cents in spend:
        total += cents / 100
        running.append(total)
    tries = sorted(data.attempts_per_lead)
    few = (
        f"n on each bar: calls placed. Grey bars come from fewer than {FEW_CALLS} calls: too "
        "few to read a rate from."
    )
    lengths = go.Figure(
        go.Histogram(
            x=data.call_seconds,
            marker_color=_BAR,
            texttemplate="%{y}",
            hovertemplate="%{x} s: %{y:,} calls<extra></extra>",
        ),
        layout={
            "xaxis": {"title": {"text": "call length (seconds)"}},
            "yaxis": {"title": {"text": "connected calls"}},
        },
    )
    spent = go.Figure(
        go.Scatter(
            x=[w for w, _ in spend],
            y=running,
            mode="lines",
            hovertemplate="%{x}: $%{y:,.2f} so far<extra></extra>",
        ),
        layout={
            "xaxis": {"title": {"text": "time (UTC)"}},
            "yaxis": {"title": {"text": "spend so far (US$)"}, "rangemode": "tozero"},
        },
    )
    return [
        Chart(
            f"Leads by state (n = {sum(states.values()):,} leads)",
            _count_bars(list(states), list(states.values()), "lead state", "leads"),
        ),
        Chart(
            f"Calls by outcome (n = {sum(n for _, n in outcomes):,} ended calls)",
            _count_bars(
                [r for r, _ in outcomes],
                [n for _, n in outcomes],
                "disconnection reason (else Retell's call status)",
                "calls",
            ),
            "Calls that were placed and ended. Create requests that placed no call are not "
            "call outcomes: they are counted apart, above.",
        ),
        Chart(
            f"Connect rate by the callee's local hour (n = {placed:,} calls)",
            _rate_bars(
                [f"{h:02d}:00" for h in hours],
                [data.by_local_hour[h] for h in hours],
                "the callee's local hour (start of the hour)",
            ),
            few,
        ),
        Chart(
            f"Connect rate by time zone (n = {placed:,} calls)",
            _rate_bars(zones, [data.by_zone[z] for z in zones], "the callee's time zone"),
            few,
        ),
        Chart(
            f"Attempts per lead (n = {sum(data.attempts_per_lead.values()):,} leads)",
            _count_bars(
                tries, [data.attempts_per_lead[t] for t in tries], "attempts made", "leads"
            ),
        ),
        Chart(
            f"Call length, connected calls (n = {len(data.call_seconds):,} calls)",
            lengths,
        ),
        Chart(f"Spend over time (n = {len(spend):,} calls with a cost)", spent),
    ]


def _script_json(value: str) -> str:
    """JSON for inside a <script> element: no `<` that could close it (in JSON, `<`, `>` and
    `&` only occur inside strings, where their \\u escapes mean the same)."""
    return value.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _requests_fact(by_outcome: dict[str, int]) -> str:
    """`placed 120 · not placed 3 · in doubt 0`: what the create requests proved."""
    return " · ".join(f"{outcome.replace('_', ' ')} {n:,}" for outcome, n in by_outcome.items())


def render(campaign: CampaignRow, data: ReportData, generated: datetime) -> str:
    """The page: one chart per figure, the data as JSON, plotly's script inlined once."""
    summary = data.summary
    total = sum(summary.leads_by_state.values())
    facts = [
        ("Leads", f"{total:,}"),
        ("Attempts", f"{summary.attempts:,}"),
        ("Connected calls", f"{summary.connected_calls:,}"),
        ("Create requests", _requests_fact(summary.requests_by_outcome)),
        (
            "Spend (known + pending estimate)",
            spend_words(summary.spend_cents, summary.pending_cents),
        ),
        (
            "Status",
            campaign.status.value
            + (f" ({campaign.status_reason})" if campaign.status_reason else ""),
        ),
    ]
    cards = "".join(
        f'<div class="fact"><span>{html.escape(k)}</span><b>{html.escape(v)}</b></div>'
        for k, v in facts
    )
    charts, scripts = [], []
    shown = [(c.title, c.figure, c.note) for c in figures(data)]
    if data.experiment is not None:
        shown = experiment_charts(data.experiment) + shown
    for index, (title, figure, note) in enumerate(shown):
        figure.update_layout(margin={"l": 60, "r": 20, "t": 20, "b": 70}, height=340)
        noted = f'<p class="note">{html.escape(note)}</p>' if note else ""
        charts.append(
            f"<section><h2>{html.escape(title)}</h2>"
            f'<div class="chart" id="chart{index}"></div>{noted}</section>'
        )
        spec = _script_json(figure.to_json())
        scripts.append(
            f"(function () {{ var f = {spec}; Plotly.newPlot('chart{index}', f.data, f.layout, "
            "{displaylogo: false, responsive: true}); })();"
        )
    section = ""
    if data.experiment is not None:
        section = f'<h2 class="experiment">Experiment</h2>{funnel_html(data.experiment.result)}'
    name = html.escape(campaign.name)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>dialer report: {name}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
.facts {{ display: flex; gap: 1rem; flex-wrap: wrap; }}
.fact {{ border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; }}
.fact span {{ display: block; color: #666; font-size: .85rem; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 1rem; }}
h2 {{ font-size: 1rem; margin: 1rem 0 .3rem; }}
.note {{ color: #666; font-size: .8rem; margin: .2rem 0; }}
.verdict {{ font-size: 1.1rem; font-weight: 600; }}
table.funnel {{ border-collapse: collapse; margin: .5rem 0 1rem; }}
table.funnel th, table.funnel td {{ border: 1px solid #ddd; padding: .3rem .6rem; }}
table.funnel td {{ text-align: right; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>Campaign {name}</h1>
<p>Generated {html.escape(generated.strftime("%Y-%m-%d %H:%M UTC"))} by dialer.</p>
<div class="facts">{cards}</div>
{section}
<main>{"".join(charts)}</main>
<script>{"".join(scripts)}</script>
</body></html>
"""
