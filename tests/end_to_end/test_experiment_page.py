"""The report of a campaign with an experiment, in a real headless browser: nothing on the
console, every chart drawn (the seven of any campaign, the funnel per variant, the difference
and a heatmap per state), each with both axis titles, and the sentence shown."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from dialer.cli import main
from dialer.store import open_store

from ..browser import chromium, load
from ..store.test_experiment_report import planted_campaign

pytestmark = pytest.mark.slow
CHARTS = 7 + 4  # any campaign's, and: funnel, difference, heatmaps of NY and FL


def test_the_experiment_section_in_a_browser(tmp_path: Path) -> None:
    chromium()  # skips without a browser
    url = f"sqlite+aiosqlite:///{tmp_path / 'exp.db'}"

    async def build() -> str:
        store = await open_store(url)
        try:
            await planted_campaign(store, tmp_path)
            experiment = (await store.campaign("exp")).settings().variants  # type: ignore[union-attr]
            assert len(experiment) == 2
        finally:
            await store.close()
        return url

    anyio.run(build)
    page = tmp_path / "exp-report.html"
    made = CliRunner().invoke(main, ["report", "exp", "-o", str(page), "--database-url", url])
    assert made.exit_code == 0, made.output
    dom, console = load(page.as_uri(), screenshot="experiment-report.png")
    assert console == [], console
    assert len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', dom)) == CHARTS
    assert dom.count('class="main-svg"') >= CHARTS  # drawn, not just declared
    assert len(re.findall(r'<text class="xtitle"', dom)) == CHARTS
    assert len(re.findall(r'<text class="ytitle"', dom)) == CHARTS
    assert "the callee's local hour" in dom and "funnel stage" in dom
    assert 'class="verdict"' in dom and "of dialed leads" in dom
    assert "n = 90 leads" in dom
