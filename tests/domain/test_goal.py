"""A campaign's goal: read from its file's text, judged on a call's analysis."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dialer.domain.campaign import FROM_STORE, CampaignSettings
from dialer.domain.goal import Goal, parse_goal


def _analysis(custom: dict[str, Any] | None = None, **own: Any) -> dict[str, Any]:
    return {**own, "custom_analysis_data": custom or {}}


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        ("call_successful", Goal("call_successful", "true")),
        ('analysis.renewed == "yes"', Goal("analysis.renewed", "==", ("yes",))),
        ("analysis.renewed == true", Goal("analysis.renewed", "==", ("true",))),
        ("analysis.renewed==YES", Goal("analysis.renewed", "==", ("yes",))),
        ("analysis.plan in [plus, 'premium']", Goal("analysis.plan", "in", ("plus", "premium"))),
        ('analysis.note == "a, b"', Goal("analysis.note", "==", ("a, b",))),
        ("user_sentiment == Positive", Goal("user_sentiment", "==", ("positive",))),
        ("analysis.score in [4, 5]", Goal("analysis.score", "in", ("4", "5"))),
    ],
)
def test_goals_read(text: str, goal: Goal) -> None:
    assert parse_goal(text) == goal
    assert parse_goal(goal.text) == goal  # what the store keeps reads back the same


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("analysis.renewed = yes", "is not a goal"),
        ("renewed == yes", "is not a goal"),
        ("analysis.plan in []", r"cannot read the value '\[\]'"),
        ("analysis.plan in [a, ]", "cannot read the value"),
        ("analysis.plan == [a, b]", "== takes one value"),
        ('analysis.plan == "open', "cannot read the value"),
    ],
)
def test_unreadable_goals_name_the_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_goal(text)


@pytest.mark.parametrize(
    ("text", "analysis", "reached"),
    [
        ("call_successful", _analysis(call_successful=True), True),
        ("call_successful", _analysis(call_successful=False), False),
        ("call_successful", None, False),
        ('analysis.renewed == "yes"', _analysis({"renewed": "Yes"}), True),
        ('analysis.renewed == "yes"', _analysis({"renewed": "no"}), False),
        ('analysis.renewed == "yes"', _analysis({"renewed": True}), False),  # write == true
        ("analysis.renewed == true", _analysis({"renewed": True}), True),
        ("analysis.renewed", _analysis({"renewed": True}), True),
        ("analysis.renewed", _analysis({"renewed": "false"}), False),
        ("analysis.plan in [plus, premium]", _analysis({"plan": "premium"}), True),
        ("analysis.plan in [plus, premium]", _analysis({"plan": "basic"}), False),
        ("analysis.plan in [plus, premium]", _analysis({}), False),
        ("analysis.score == 5", _analysis({"score": 5.0}), True),
        ("user_sentiment == positive", _analysis(user_sentiment="Positive"), True),
        ("analysis.plan == x", {"custom_analysis_data": "not a mapping"}, False),
    ],
)
def test_goal_reached(text: str, analysis: dict[str, Any] | None, reached: bool) -> None:
    assert parse_goal(text).reached(analysis) is reached


def test_campaign_settings_keep_the_goal_as_its_text() -> None:
    settings = CampaignSettings(
        name="x", from_number="+14155550100", goal="analysis.plan in [plus, premium]"
    )
    stored = settings.model_dump(mode="json")
    assert stored["goal"] == 'analysis.plan in ["plus", "premium"]'
    again = CampaignSettings.model_validate(stored, context=FROM_STORE)
    assert again.goal == settings.goal
    assert CampaignSettings(name="x", from_number="+14155550100").goal is None


@pytest.mark.parametrize("value", [True, 3, ["call_successful"]])
def test_a_goal_is_text(value: object) -> None:
    with pytest.raises(ValidationError, match="is not a goal"):
        CampaignSettings(name="x", from_number="+14155550100", goal=value)  # type: ignore[arg-type]
