"""Which of a campaign's settings a reload changed (what a running campaign logs)."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.domain.settings_changes import changed_settings


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"budget_usd": 2}, {"budget_usd": 2}, []),
        ({"budget_usd": 2}, {"budget_usd": 500}, ["budget_usd"]),
        ({"a": 1, "steps": [1]}, {"a": 1, "steps": [2], "pacing": {}}, ["pacing", "steps"]),
        ({"budget_usd": 2}, {}, ["budget_usd"]),
        ({"pacing": {"cps": 1}}, {"pacing": {"cps": 1}}, []),
    ],
)
def test_the_settings_that_changed(
    old: dict[str, Any], new: dict[str, Any], expected: list[str]
) -> None:
    assert changed_settings(old, new) == expected
