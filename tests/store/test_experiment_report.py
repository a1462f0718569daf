"""An experiment in the report, `dialer status` (table and JSON), on both stores: the funnel
per variant with its intervals, the difference and the sentence, connect rate by local hour
and weekday per state — every chart with axis titles and its n. A campaign without variants
has no such section."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
import pytest
from click.testing import CliRunner

from dialer.cli import main
from dialer.domain.variants import assign_variant
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.reporting.report import gather, render
from dialer.store import CampaignRow, Store

from ..fakes.planted import call_ends, planted_engine
from ..helpers import lead_rows, numbers, write_campaign
from .test_experiments import PLANTED, VARIANTS, _claim_all, _end

pytestmark = pytest.mark.anyio
FLORIDA = [f"+1305{2_000_000 + i:07d}" for i in range(30)]  # Miami: another state


async def planted_campaign(store: Store, tmp_path: Path, count: int = 60) -> CampaignRow:
    """`exp`: leads in New York and Florida, each called once with its variant's agent (B's
    planted better), ended as the simulator's outcome model makes them."""
    path = write_campaign(
        tmp_path,
        numbers(count) + FLORIDA,
        name="exp",
        cps=100_000,
        cap=100_000,
        max_attempts=1,
        extra={"variants": VARIANTS, "goal": "analysis.renewed == true"},
    )
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    row = await store.campaign(campaign_id)
    assert row is not None
    keys = {int(r["id"]): str(r["lead_key"]) for r in await lead_rows(store)}
    claimed = await _claim_all(store, campaign_id)
    variants = row.settings().variants
    agents = [assign_variant("exp", keys[a.lead_id], variants) for a in claimed]
    engine, clock = planted_engine(PLANTED, seed=5)
    ends = call_ends(
        engine,
        clock,
        [(a.to_number, str(v.agent_id)) for a, v in zip(claimed, agents, strict=True) if v],
    )
    from dialer.domain.states import LeadState

    for attempt, end in zip(claimed, ends, strict=True):
        await _end(store, attempt, end, LeadState.COMPLETED)
    return row


async def test_the_report_has_an_experiment_section(store: Store, tmp_path: Path) -> None:
    row = await planted_campaign(store, tmp_path)
    data = await gather(store, row)
    experiment = data.experiment
    assert experiment is not None
    assert sum(f.leads for f in experiment.result.funnels.values()) == 90
    assert {s for s, _, _ in experiment.heatmap.cells} == {"NY", "FL"}

    from dialer.reporting.experiment import experiment_charts

    charts = experiment_charts(experiment)
    titles = [title for title, _, _ in charts]
    assert titles[0].startswith("Funnel per variant (n = 90 leads: A ")
    assert titles[1].startswith("Difference from A (n = 90 dialed leads)")
    assert titles[2].startswith("Connect rate by local hour and weekday, NY (n = 60 calls)")
    assert titles[3].startswith("Connect rate by local hour and weekday, FL (n = 30 calls)")
    for title, figure, _ in charts:
        assert figure.layout.xaxis.title.text and figure.layout.yaxis.title.text, title
        assert "(n = " in title
    funnel = charts[0][1]
    assert [trace.name for trace in funnel.data] == ["A", "B"]
    assert all("/" in text for trace in funnel.data for text in trace.text)  # count/base
    heat = charts[2][1].data[0]
    assert any(t.startswith("n=") for row_text in heat.text for t in row_text)

    page = render(row, data, datetime.now(UTC))
    assert '<h2 class="experiment">Experiment</h2>' in page
    assert experiment.result.verdict.replace("'", "&#x27;") in page
    assert "Goal: <code>analysis.renewed == &quot;true&quot;</code>" in page
    assert page.count('class="chart"') == 7 + len(charts)


async def test_no_variants_no_experiment_section(store: Store, tmp_path: Path) -> None:
    path = write_campaign(tmp_path, numbers(3), name="plain")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    row = await store.campaign(campaign_id)
    assert row is not None
    data = await gather(store, row)
    assert data.experiment is None
    assert "Experiment</h2>" not in render(row, data, datetime.now(UTC))


async def test_status_prints_the_variant_table_and_its_json_carries_it(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    await planted_campaign(store, tmp_path)

    def status(*extra: str) -> str:
        result = CliRunner().invoke(main, ["status", "exp", *extra, "--database-url", store_url])
        assert result.exit_code == 0, result.output
        return result.output

    shown = await anyio.to_thread.run_sync(status)
    assert 'experiment (goal: analysis.renewed == "true")' in shown
    assert "talked ≥ 30 s" in shown and "cost per goal" in shown
    view = json.loads(await anyio.to_thread.run_sync(lambda: status("--json")))
    experiment = view["experiment"]
    assert [v["name"] for v in experiment["variants"]] == ["A", "B"]
    leads = sum(v["funnel"]["leads"]["count"] for v in experiment["variants"])
    assert leads == 90
    assert experiment["verdict"] in " ".join(shown.split())  # the sentence, under the table
    # what the API's campaign read answers with: its OpenAPI document's shape
    from dialer.http.api_models import ExperimentView

    shaped = ExperimentView.model_validate(experiment)
    assert shaped.comparisons[0].variant == "B" and len(shaped.comparisons[0].ci95) == 2
    cells = experiment["connect_heatmap"]
    assert sum(c["calls"] for c in cells) == 90 and {c["state"] for c in cells} == {"NY", "FL"}
