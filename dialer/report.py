"""`dialer report NAME`: one self-contained HTML page (plotly's script inlined: it works
offline) with the charts a campaign manager reads at a glance — leads by final state, calls by
outcome, connect rate by the callee's local hour and by time zone, attempts per lead, call
lengths, spend over time. Everything shown is escaped: reasons and zone names are data, and
the charts' data reach the page as JSON that cannot close its script element."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dialer.domain.timezones import zone
from dialer.store import CampaignRow, CampaignSummary, Store

CONNECTED = "ended"  # Retell's status of a call that reached someone


@dataclass
class ReportData:
    """What the charts need, gathered in one pass over the campaign's attempts."""

    summary: CampaignSummary
    attempts_per_lead: dict[int, int]
    by_local_hour: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_zone: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    call_seconds: list[float] = field(default_factory=list)
    spend: list[tuple[datetime, float]] = field(default_factory=list)  # (when, cents)

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
    return data


def _rate(counts: list[int]) -> float:
    return 100 * counts[1] / counts[0] if counts[0] else 0.0


def figures(data: ReportData) -> list[tuple[str, go.Figure]]:
    """(title, figure) for each chart, in reading order."""
    states = data.summary.leads_by_state
    outcomes = Counter(data.summary.calls_by_reason).most_common()
    hours = sorted(data.by_local_hour)
    zones = sorted(data.by_zone, key=lambda z: -data.by_zone[z][0])
    spend = sorted(data.spend)
    running, total = [], 0.0
    for _when, cents in spend:
        total += cents / 100
        running.append(total)
    tries = sorted(data.attempts_per_lead)
    return [
        ("Leads by state", go.Figure(go.Bar(x=list(states), y=list(states.values())))),
        (
            "Calls by outcome",
            go.Figure(go.Bar(x=[r for r, _ in outcomes], y=[n for _, n in outcomes])),
        ),
        (
            "Connect rate by the callee's local hour (%)",
            go.Figure(go.Bar(x=hours, y=[_rate(data.by_local_hour[h]) for h in hours])),
        ),
        (
            "Connect rate by time zone (%)",
            go.Figure(go.Bar(x=zones, y=[_rate(data.by_zone[z]) for z in zones])),
        ),
        (
            "Attempts per lead",
            go.Figure(
                go.Bar(x=tries, y=[data.attempts_per_lead[t] for t in tries]),
                layout={"xaxis": {"dtick": 1}},
            ),
        ),
        ("Call length (s), connected calls", go.Figure(go.Histogram(x=data.call_seconds))),
        (
            "Spend over time (US$)",
            go.Figure(go.Scatter(x=[w for w, _ in spend], y=running, mode="lines")),
        ),
    ]


def _script_json(value: str) -> str:
    """JSON for inside a <script> element: no `<` that could close it (in JSON, `<`, `>` and
    `&` only occur inside strings, where their \\u escapes mean the same)."""
    return value.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(campaign: CampaignRow, data: ReportData, generated: datetime) -> str:
    """The page: one chart per figure, the data as JSON, plotly's script inlined once."""
    summary = data.summary
    total = sum(summary.leads_by_state.values())
    facts = [
        ("Leads", f"{total:,}"),
        ("Attempts", f"{summary.attempts:,}"),
        ("Connected calls", f"{summary.connected_calls:,}"),
        ("Spend", f"${summary.spend_cents / 100:,.2f}"),
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
    for index, (title, figure) in enumerate(figures(data)):
        figure.update_layout(margin={"l": 50, "r": 20, "t": 20, "b": 60}, height=320)
        charts.append(
            f'<section><h2>{html.escape(title)}</h2><div class="chart" id="chart{index}"></div>'
            "</section>"
        )
        spec = _script_json(figure.to_json())
        scripts.append(
            f"(function () {{ var f = {spec}; Plotly.newPlot('chart{index}', f.data, f.layout, "
            "{displaylogo: false, responsive: true}); })();"
        )
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
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>Campaign {name}</h1>
<p>Generated {html.escape(generated.strftime("%Y-%m-%d %H:%M UTC"))} by dialer.</p>
<div class="facts">{cards}</div>
<main>{"".join(charts)}</main>
<script>{"".join(scripts)}</script>
</body></html>
"""
