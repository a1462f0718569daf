"""An experiment in the report, `dialer status` and the API: per variant the funnel with its
95 % intervals, the difference between variants and the sentence that says which is ahead
(dialer.domain.experiment), and connect rate by the callee's local hour and weekday per state.

The report's section: a table of the funnel (counts, shares, intervals, cost per goal), the
sentence, a chart of the funnel per variant with its intervals as error bars, a chart of each
difference with its interval, and one heatmap per state (the MAX_HEATMAPS states with the most
calls). Every chart has axis titles and its sample size in its title and on its marks."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from rich.table import Table

from dialer.domain.experiment import WEEKDAY_NAMES, ExperimentResult, Heatmap, compare
from dialer.store import CampaignRow, Store

MAX_HEATMAPS = 4
STAGE_WORDS = {
    "leads": "leads",
    "dialed": "dialed",
    "connected": "connected",
    "talked_30s": "talked ≥ 30 s",
    "call_successful": "call_successful",
    "goal": "goal",
}
_COLOURS = ("#3b7dd8", "#e07b39", "#3aa655", "#9b59b6", "#c0392b", "#16a085")


@dataclass(frozen=True)
class Experiment:
    result: ExperimentResult
    heatmap: Heatmap

    def as_json(self) -> dict[str, Any]:
        return {**self.result.as_json(), "connect_heatmap": self.heatmap.as_json()}


async def read_experiment(store: Store, campaign: CampaignRow) -> Experiment | None:
    """The campaign's experiment; None when it has no variants."""
    settings = campaign.settings()
    if not settings.variants:
        return None
    counts = await store.experiment_counts(
        campaign.id, campaign.name, settings.variants, settings.goal
    )
    return Experiment(compare(counts.funnels, settings.goal), counts.heatmap)


def _share(result: ExperimentResult, variant: str, stage: str) -> str:
    rate, interval = result.rate(variant, stage)
    if rate is None or interval is None:
        return "—"
    return f"{100 * rate:.1f} % ({100 * interval.low:.1f}–{100 * interval.high:.1f})"


def _cost(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def variant_table(experiment: Experiment) -> Table:
    """`dialer status`: a row per funnel stage, a column per variant: count, share and its
    95 % interval (narrow enough for a terminal of 80 columns with three variants)."""
    result = experiment.result
    goal = f" (goal: {result.goal_text})" if result.goal_text else " (no goal set)"
    table = Table(title=f"experiment{goal}", show_header=True, header_style="bold")
    table.add_column("")
    for name in result.funnels:
        table.add_column(name, justify="right")
    for stage in result.stages:
        cells = [
            f"{f.count(stage):,}" + ("" if stage == "leads" else f" · {_share(result, n, stage)}")
            for n, f in result.funnels.items()
        ]
        table.add_row(STAGE_WORDS[stage], *cells)
    table.add_section()
    table.add_row(
        f"cost per {STAGE_WORDS[result.measure]}",
        *(_cost(cost_of(result, n)) for n in result.funnels),
    )
    table.caption = "dialed: % of leads; later: % of dialed leads; 95 % intervals (Wilson)"
    return table


def cost_of(result: ExperimentResult, variant: str) -> float | None:
    funnel = result.funnels[variant]
    reached = funnel.count(result.measure)
    return funnel.cost_cents / 100 / reached if reached else None


def funnel_html(result: ExperimentResult) -> str:
    """The report's table of the funnel, and the sentence."""
    head = "".join(f"<th>{html.escape(STAGE_WORDS[s])}</th>" for s in result.stages)
    measure = html.escape(STAGE_WORDS[result.measure])
    rows = []
    for name, funnel in result.funnels.items():
        cells = [f"<td>{funnel.leads:,}</td>"]
        for stage in result.stages[1:]:
            shown = f"{funnel.count(stage):,}<br><small>{_share(result, name, stage)}</small>"
            cells.append(f"<td>{shown}</td>")
        rows.append(
            f"<tr><th>{html.escape(name)}</th>{''.join(cells)}"
            f"<td>{_cost(cost_of(result, name))}</td></tr>"
        )
    goal = (
        f"Goal: <code>{html.escape(result.goal_text)}</code>."
        if result.goal_text
        else "No goal set: variants are compared on call_successful."
    )
    return (
        f'<p class="verdict">{html.escape(result.verdict)}</p>'
        f'<p class="note">{goal} Dialed: share of leads; later stages: share of dialed leads; '
        "95 % intervals (Wilson) in brackets. Differences: two-proportion z-test against the "
        "first variant. Decide the sample size before you look: checking again and again "
        "until a difference shows makes one appear by chance.</p>"
        f'<table class="funnel"><tr><th>variant</th>{head}<th>cost per {measure}</th></tr>'
        f"{''.join(rows)}</table>"
    )


def _label(value: object) -> str:
    return html.escape(str(value), quote=False)


def funnel_figure(result: ExperimentResult) -> go.Figure:
    """Each stage's share per variant, its 95 % interval as error bars, n on each bar."""
    traces = []
    for index, (name, funnel) in enumerate(result.funnels.items()):
        stages = result.stages[1:]
        rates, lows, highs, text = [], [], [], []
        for stage in stages:
            rate, interval = result.rate(name, stage)
            value = 100 * (rate or 0.0)
            rates.append(value)
            lows.append(value - 100 * interval.low if interval else 0.0)
            highs.append(100 * interval.high - value if interval else 0.0)
            base = funnel.leads if stage == "dialed" else funnel.dialed
            text.append(f"{funnel.count(stage):,}/{base:,}")
        traces.append(
            go.Bar(
                name=_label(name),
                x=[_label(STAGE_WORDS[s]) for s in stages],
                y=rates,
                error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
                text=text,
                textposition="inside",
                textangle=0,
                marker_color=_COLOURS[index % len(_COLOURS)],
                hovertemplate=f"{_label(name)} %{{x}}: %{{y:.1f}} % (%{{text}})<extra></extra>",
            )
        )
    return go.Figure(
        traces,
        layout={
            "barmode": "group",
            "xaxis": {"title": {"text": "funnel stage"}, "type": "category"},
            "yaxis": {
                "title": {"text": "share (%): dialed of leads, later of dialed"},
                "range": [0, 105],
            },
        },
    )


def difference_figure(result: ExperimentResult) -> go.Figure:
    """Each variant minus the first, in points, with its 95 % interval; zero marked."""
    labels = [_label(f"{c.variant} − {c.against}") for c in result.comparisons]
    values = [100 * c.difference.estimate for c in result.comparisons]
    funnels = result.funnels
    return go.Figure(
        go.Scatter(
            x=labels,
            y=values,
            mode="markers+text",
            marker={"size": 12, "color": _COLOURS[0]},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    100 * c.difference.interval.high - v
                    for c, v in zip(result.comparisons, values, strict=True)
                ],
                "arrayminus": [
                    v - 100 * c.difference.interval.low
                    for c, v in zip(result.comparisons, values, strict=True)
                ],
            },
            text=[
                f"n={funnels[c.variant].dialed:,} vs {funnels[c.against].dialed:,}; "
                f"p={c.difference.p_value:.3g}"
                for c in result.comparisons
            ],
            textposition="middle right",
            hoverinfo="text+y",
        ),
        layout={
            "xaxis": {"title": {"text": "comparison"}, "type": "category"},
            "yaxis": {
                "title": {"text": f"difference in {STAGE_WORDS[result.measure]} (points)"},
                "zeroline": True,
                "zerolinewidth": 2,
            },
        },
    )


def heatmap_figure(heatmap: Heatmap, state: str) -> tuple[go.Figure, int]:
    """Connect rate (%) by the callee's local weekday and hour in one state, n in each cell;
    and the calls it counts."""
    hours = sorted({h for (s, _, h) in heatmap.cells if s == state})
    rates: list[list[float | None]] = []
    text: list[list[str]] = []
    total = 0
    for day in range(7):
        row_rates: list[float | None] = []
        row_text: list[str] = []
        for hour in hours:
            calls, connected = heatmap.cells.get((state, day, hour), (0, 0))
            total += calls
            row_rates.append(100 * connected / calls if calls else None)
            row_text.append(f"n={calls}" if calls else "")
        rates.append(row_rates)
        text.append(row_text)
    figure = go.Figure(
        go.Heatmap(
            x=[f"{h:02d}:00" for h in hours],
            y=list(WEEKDAY_NAMES),
            z=rates,
            text=text,
            texttemplate="%{text}",
            zmin=0,
            zmax=100,
            colorscale="Blues",
            colorbar={"title": {"text": "connected (%)"}},
            hovertemplate="%{y} %{x}: %{z:.0f} % connected (%{text})<extra></extra>",
        ),
        layout={
            "xaxis": {"title": {"text": "the callee's local hour"}, "type": "category"},
            "yaxis": {"title": {"text": "the callee's local weekday"}, "autorange": "reversed"},
        },
    )
    return figure, total


def experiment_charts(experiment: Experiment) -> list[tuple[str, go.Figure, str]]:
    """(title, figure, note) of each chart of the section, in reading order."""
    result = experiment.result
    leads = sum(f.leads for f in result.funnels.values())
    sizes = ", ".join(f"{n} {f.leads:,}" for n, f in result.funnels.items())
    charts = [
        (
            f"Funnel per variant (n = {leads:,} leads: {sizes})",
            funnel_figure(result),
            "Bars: share of the variant's leads (dialed) or dialed leads (later stages), "
            "with their 95 % intervals; on each bar: count/base.",
        )
    ]
    if result.comparisons:
        charts.append(
            (
                f"Difference from {next(iter(result.funnels))} "
                f"(n = {sum(f.dialed for f in result.funnels.values()):,} dialed leads)",
                difference_figure(result),
                "Each variant minus the first, in points, with its interval (95 %; with k "
                "variants, 1 - 5 %/(k - 1)): one that crosses zero shows no difference yet.",
            )
        )
    for state in experiment.heatmap.states()[:MAX_HEATMAPS]:
        figure, calls = heatmap_figure(experiment.heatmap, state)
        charts.append(
            (
                f"Connect rate by local hour and weekday, {state} (n = {calls:,} calls)",
                figure,
                "Cells: calls placed to the state's leads at that local hour and weekday, "
                "coloured by the share that connected; empty: no call.",
            )
        )
    return charts
