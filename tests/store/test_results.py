"""What a campaign's results say, on both stores: create requests (placed, not placed, in
doubt) are never counted as call outcomes — in the summary, `dialer status` (table and JSON)
and the run summary — and the report's charts have axis titles, sample sizes, rates from few
calls marked as such, and labels escaped before plotly sees them."""

from __future__ import annotations

import html
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from click.testing import CliRunner
from rich.console import Console

from dialer.cli import main
from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision, after_not_placed
from dialer.domain.states import LeadState
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.reporting.report import FEW_CALLS, figures, gather, render
from dialer.reporting.terminal import RunProgress, summary_table
from dialer.store import Attempt, ClaimRequest, Store

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio
HOSTILE = '<a href="https://evil.example">click</a>'


async def _claim(store: Store, campaign_id: int, count: int) -> list[Attempt]:
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=20), count, 30)
    return (await store.claim(campaign_id, "w", request)).attempts


async def _campaign_with_every_kind_of_attempt(store: Store, tmp_path: Path) -> int:
    """Five leads: a call that ended with a reason, one ended without a reason (status
    `error`), a call with a hostile reason, a create refused before any call (not placed), and
    a create in doubt."""
    path = write_campaign(tmp_path, numbers(5), name="results")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    hung_up, errored, hostile, refused, doubtful = await _claim(store, campaign_id, 5)
    for number, (attempt, status, reason) in enumerate(
        [(hung_up, "ended", "user_hangup"), (errored, "error", None), (hostile, "ended", HOSTILE)]
    ):
        call_id = f"call-{number}"
        assert await store.record_placed(attempt, "w", call_id, "ongoing", 30)
        end = CallEnd(call_id, status, reason, duration_ms=30_000, cost_cents=10.0)
        assert (
            await store.record_call_end(attempt, "w", Decision(LeadState.COMPLETED), end)
        ).written
    now = await store.now()
    decision = after_not_placed(1, now, retry_in=None, error="422: bad number")
    assert await store.record_not_placed(refused, "w", decision, error="422: bad number")
    assert await store.record_in_doubt(doubtful, "w", "502 after sending")
    return campaign_id


async def test_request_outcomes_are_not_call_outcomes(store: Store, tmp_path: Path) -> None:
    """ "placed" and "not_placed" used to appear as call outcomes beside Retell's reasons (an
    attempt without a reason was counted by its own state)."""
    campaign_id = await _campaign_with_every_kind_of_attempt(store, tmp_path)
    summary = await store.summary(campaign_id)
    assert summary.calls_by_reason == {"user_hangup": 1, "error": 1, HOSTILE: 1}
    assert summary.requests_by_outcome == {"placed": 3, "not_placed": 1, "in_doubt": 1}

    table = io.StringIO()
    Console(file=table, width=120).print(summary_table("results", summary))
    shown = table.getvalue()
    assert "requests placed (a call exists)" in shown and "requests not placed" in shown
    assert "calls ended user_hangup" in shown and "calls ended error" in shown
    assert "calls not_placed" not in shown and "calls placed" not in shown


async def test_status_json_keeps_requests_apart(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    await _campaign_with_every_kind_of_attempt(store, tmp_path)

    def status() -> str:
        result = CliRunner().invoke(main, ["status", "--json", "--database-url", store_url])
        assert result.exit_code == 0, result.output
        return result.output

    (view,) = [json.loads(line) for line in (await anyio.to_thread.run_sync(status)).splitlines()]
    assert set(view["calls_by_reason"]) == {"user_hangup", "error", HOSTILE}
    assert view["requests_by_outcome"] == {"placed": 3, "not_placed": 1, "in_doubt": 1}


def test_the_progress_bar_says_it_waits_for_retell() -> None:
    from dialer.store import CampaignSummary

    shown = io.StringIO()
    bar = RunProgress(Console(file=shown, width=200, force_terminal=True), "c", 4)
    summary = CampaignSummary({"pending": 30}, {}, 0, 0, 0, 0, None)
    with bar.progress:
        bar.update(summary, 0.0, 0, None, waiting_for_retell=True)
        bar.progress.refresh()
    assert "waiting for Retell" in shown.getvalue()


async def test_every_chart_has_axis_titles_sample_sizes_and_escaped_labels(
    store: Store, tmp_path: Path
) -> None:
    """The report's charts had no axis titles and no sample sizes (a time zone at 100 % from
    three calls), and plotly rendered HTML in a disconnection reason as a live link."""
    campaign_id = await _campaign_with_every_kind_of_attempt(store, tmp_path)
    row = await store.campaign(campaign_id)
    assert row is not None
    data = await gather(store, row)
    charts = figures(data)
    assert len(charts) == 7
    for chart in charts:
        layout = chart.figure.layout
        assert layout.xaxis.title.text and layout.yaxis.title.text, chart.title
        assert "(n = " in chart.title, chart.title
    by_title = {chart.title.split(" (n = ")[0]: chart for chart in charts}
    outcomes = by_title["Calls by outcome"].figure.data[0]
    assert html.escape(HOSTILE, quote=False) in outcomes.x and HOSTILE not in outcomes.x
    assert list(outcomes.text) == ["1", "1", "1"]  # n on each bar
    zones = by_title["Connect rate by time zone"].figure.data[0]
    assert list(zones.x) == ["America/New_York"]
    assert list(zones.text) == [f"n=3 (<{FEW_CALLS})"]  # 3 calls: shown as too few
    assert zones.marker.color[0] != by_title["Leads by state"].figure.data[0].marker.color
    assert "%" in by_title["Connect rate by time zone"].figure.layout.yaxis.title.text
    assert "seconds" in by_title["Call length, connected calls"].figure.layout.xaxis.title.text

    page = render(row, data, datetime.now(UTC))
    assert HOSTILE not in page and 'href="https://evil' not in page
    assert "placed 3 · not placed 1 · in doubt 1" in page
