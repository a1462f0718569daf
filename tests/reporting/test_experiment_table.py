"""The experiment's table (`dialer status`) and the report's funnel: a `goal` row only when a
goal is set (without one it read `0 · 0.0 %` beside a verdict on call_successful)."""

from __future__ import annotations

from rich.console import Console

from dialer.domain.experiment import Funnel, Heatmap, compare
from dialer.domain.goal import parse_goal
from dialer.reporting.experiment import Experiment, funnel_html, variant_table

ARMS = {"A": Funnel(100, 100, 80, 60, 20), "B": Funnel(100, 100, 80, 60, 45)}


def _table(experiment: Experiment) -> str:
    console = Console(width=120, record=True)
    console.print(variant_table(experiment))
    return console.export_text()


def test_no_goal_no_goal_row() -> None:
    experiment = Experiment(compare(ARMS, None), Heatmap())
    rows = [line.split("│")[1].strip() for line in _table(experiment).splitlines() if "│" in line]
    assert "goal" not in rows and "call_successful" in " ".join(rows)
    assert ">goal<" not in funnel_html(experiment.result)


def test_a_goal_has_its_row() -> None:
    experiment = Experiment(compare(ARMS, parse_goal("call_successful")), Heatmap())
    assert "goal" in [
        line.split("│")[1].strip() for line in _table(experiment).splitlines() if "│" in line
    ]
    assert ">goal<" in funnel_html(experiment.result)
