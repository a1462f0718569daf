"""A campaign's goal: read from its file's text, judged on a call's analysis."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dialer.domain.campaign import FROM_STORE, CampaignSettings
from dialer.domain.goal import Goal, parse_goal, unused_goal


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
        ("user_sentiment == Happy", "no call has user_sentiment 'happy'"),
        ("user_sentiment in [Positive, glad]", "no call has user_sentiment 'glad'"),
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


@pytest.mark.parametrize(
    ("goal", "variants", "warned"),
    [
        (None, 0, False),
        (None, 2, False),
        ("call_successful", 2, False),
        ("call_successful", 0, True),  # only an experiment's report reads it
    ],
)
def test_a_goal_without_variants_is_warned_of(
    goal: str | None, variants: int, warned: bool
) -> None:
    said = unused_goal(parse_goal(goal) if goal else None, variants)
    assert (said is not None) is warned
    assert said is None or "no effect without variants" in said


def test_every_sentiment_retell_gives_is_a_goal() -> None:
    for value in ("Negative", "Positive", "Neutral", "Unknown"):
        assert parse_goal(f"user_sentiment == {value}").values == (value.lower(),)


def test_values_refused_now_but_stored_before_stay_readable() -> None:
    """A campaign loaded before these were refused still reads back (its workers and status
    go on): a sentiment Retell never gives, a 0s callback, an empty agent_id."""
    stored = {
        "name": "old",
        "agent_id": "agent_x",
        "from_number": "+14155550100",
        "goal": "user_sentiment == happy",
        "retry": {"callback_delay": "0s"},
        "steps": [
            {"when": {"user_sentiment": "happy"}, "then": {"callback": "0s"}},
            {"when": {"analysis": {"": "yes"}}, "then": {"call": {"agent_id": ""}}},
        ],
    }
    settings = CampaignSettings.model_validate(stored, context=FROM_STORE)
    assert settings.goal is not None and settings.goal.values == ("happy",)
    with pytest.raises(ValidationError):
        CampaignSettings.model_validate(stored)
