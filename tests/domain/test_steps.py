"""Steps: the rules' model, the retry block compiled, the first match's route, validate's
checks and every README example — pure, table-tested."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialer.domain.calling_rules import CallingRules
from dialer.domain.campaign import CampaignSettings, RetryRules
from dialer.domain.next_call import call_settings
from dialer.domain.reasons import NEVER_CONNECTED
from dialer.domain.routing import (
    LastCall,
    Route,
    campaign_steps,
    describe_steps,
    route,
    step_problems,
)
from dialer.domain.step_windows import window_opening, window_wait
from dialer.domain.steps import Step, retry_steps
from dialer.domain.timezones import zone
from dialer.domain.variants import Variant

README = Path(__file__).resolve().parents[2] / "README.md"
BASE: dict[str, Any] = {"name": "c", "from_number": "+14155550100", "agent_id": "agent_main"}


def settings(**extra: Any) -> CampaignSettings:
    return CampaignSettings.model_validate({**BASE, **extra})


def steps_of(*raw: dict[str, Any]) -> list[Step]:
    return [Step.model_validate(r) for r in raw]


def ended(reason: str, analysis: dict[str, Any] | None = None, **kw: Any) -> LastCall:
    status = "ended"
    if reason.startswith("error"):
        status = "error"
    elif reason in NEVER_CONNECTED:
        status = "not_connected"
    return LastCall(status, reason, analysis=analysis, **kw)


INTERESTED = {"custom_analysis_data": {"interested": "yes"}, "call_successful": True}
NOT_INTERESTED = {"custom_analysis_data": {"interested": "no"}, "call_successful": False}
THREE = steps_of(
    {"when": {"outcome": "voicemail"}, "then": {"call": {"at": "evening", "agent_id": "short"}}},
    {
        "when": {"outcome": "no_answer", "attempt": 2},
        "then": {"call": {"after": "1h", "number": "next_alternate"}},
    },
    {"when": {"analysis.interested": "yes"}, "then": "complete"},
    # (`outcome: connected` would take callback requests too: the first match decides)
    {"when": {"reason": ["user_hangup", "agent_hangup"]}, "then": {"skip": "not interested"}},
)


@pytest.mark.parametrize(
    ("last", "spent", "expected"),
    [
        # voicemail → the evening window, another agent
        (
            ended("voicemail_reached", attempt=1),
            1,
            Route(
                "call",
                "voicemail_reached",
                1,
                window="evening",
                plan={"agent_id": "short", "window": "evening"},
            ),
        ),
        # the first no-answer: no step of ours, the retry block's backoff
        (
            ended("dial_no_answer", attempt=1),
            1,
            Route("call", "dial_no_answer", 6, wait=timedelta(minutes=30)),
        ),
        # the second no-answer: the alternate, after an hour
        (
            ended("dial_no_answer", attempt=2),
            2,
            Route("call", "dial_no_answer", 2, wait=timedelta(hours=1), next_number=True),
        ),
        # interested: complete; not interested: skipped with the step's reason
        (ended("user_hangup", INTERESTED), 1, Route("complete", "user_hangup", 3)),
        (
            ended("user_hangup", NOT_INTERESTED),
            1,
            Route("skip", "not interested", 4, reason="not interested"),
        ),
        # the analysis unknown: the analysis rule does not match, the next one does
        (ended("user_hangup"), 1, Route("skip", "not interested", 4, reason="not interested")),
        # max_attempts spent: a call again becomes a failure
        (
            ended("voicemail_reached", attempt=3),
            3,
            Route("fail", "voicemail_reached; max_attempts spent", 1),
        ),
        # a callback request: the retry block's callback step
        (
            ended("user_requested_callback"),
            1,
            Route("callback", "callback requested", 5, next_day=True),
        ),
        (
            ended("user_requested_callback"),
            3,
            Route("complete", "callback requested, no attempts left", 5),
        ),
        # an unconnected end no rule names: failed
        (ended("invalid_destination"), 1, Route("fail", "invalid_destination")),
        # an error: the retry block's `error`
        (ended("error_asr"), 1, Route("call", "error_asr", 6, wait=timedelta(minutes=30))),
    ],
)
def test_the_first_matching_step_decides(last: LastCall, spent: int, expected: Route) -> None:
    rules = [*THREE, *retry_steps(["dial_no_answer", "error"], [timedelta(minutes=30)], None)]
    assert route(rules, last, spent, 3) == expected


@pytest.mark.parametrize(
    ("when", "last", "matches"),
    [
        ({"outcome": ["busy", "no_answer"]}, ended("user_declined"), True),
        ({"outcome": "connected"}, ended("voicemail_reached"), False),
        ({"reason": "error"}, LastCall("ended", "brand_new_reason"), True),
        ({"call_successful": True}, ended("agent_hangup", {"call_successful": True}), True),
        ({"call_successful": True}, ended("agent_hangup", {"call_successful": False}), False),
        ({"in_voicemail": True}, ended("voicemail_reached", {"in_voicemail": True}), True),
        (
            {"user_sentiment": ["positive", "neutral"]},
            ended("user_hangup", {"user_sentiment": "Neutral"}),
            True,
        ),
        (
            {"analysis.plan": ["plus", "premium"]},
            ended("user_hangup", {"custom_analysis_data": {"plan": "basic"}}),
            False,
        ),
        (
            {"analysis": {"renewed": True}},
            ended("user_hangup", {"custom_analysis_data": {"renewed": "yes"}}),
            True,
        ),
        ({"attempt": [2, 3]}, ended("dial_busy", attempt=3), True),
        ({"number": "alternate"}, ended("dial_busy", alternate=False), False),
        ({"number": "primary"}, ended("dial_busy"), True),
        ({"number": ["primary", "alternate"]}, ended("dial_busy", alternate=True), True),
        ({"number": ["alternate"]}, ended("dial_busy"), False),
        ({"variant": "B"}, ended("dial_busy", variant="B"), True),
        ({"variant": "B"}, ended("dial_busy", variant="A"), False),
    ],
)
def test_conditions(when: dict[str, Any], last: LastCall, matches: bool) -> None:
    found = route(steps_of({"when": when, "then": "complete"}), last, 1, 3)
    assert (found.step == 1) is matches


def test_the_retry_block_compiles_to_a_callback_and_a_backoff_step() -> None:
    rules = RetryRules(retry_on=["dial_busy"], backoff=["1h", "2h"], callback_delay="3h")  # type: ignore[list-item,arg-type]
    compiled = retry_steps(rules.retry_on, rules.backoff, rules.callback_delay)
    assert [s.model_dump(mode="json", exclude_defaults=True) for s in compiled] == [
        {"when": {"reason": ["user_requested_callback"]}, "then": {"callback": "3h"}},
        {"when": {"reason": ["dial_busy"]}, "then": {"call": {"after": ["1h", "2h"]}}},
    ]
    # a campaign's own steps come first, then its retry block's
    own = settings(steps=[{"when": {"outcome": "busy"}, "then": "complete"}])
    assert len(campaign_steps(own)) == 3 and campaign_steps(own)[0].then.complete


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (
            [{"then": "complete"}, {"when": {"outcome": "busy"}, "then": "complete"}],
            (1, "when", "unreachable: steps.0 matches every call this one would"),
        ),
        (
            [
                {"when": {"outcome": ["busy", "no_answer"]}, "then": "complete"},
                {"when": {"outcome": "busy", "attempt": 2}, "then": "complete"},
            ],
            (1, "when", "unreachable: steps.0 matches every call this one would"),
        ),
        (
            [{"when": {"outcome": "voicemail", "reason": "dial_busy"}, "then": "complete"}],
            (0, "when", "never matches: reason dial_busy is never outcome voicemail"),
        ),
        (
            [{"when": {"outcome": "no_answer", "call_successful": True}, "then": "complete"}],
            (
                0,
                "when",
                "never matches: an analysis condition never holds for calls that did not connect",
            ),
        ),
        (
            [{"when": {"outcome": "busy", "attempt": [4, 5]}, "then": "complete"}],
            (0, "when", "never matches: attempt 4 is beyond max_attempts (3)"),
        ),
        (
            [{"when": {"variant": "C"}, "then": "complete"}],
            (0, "when", "no variant named 'C'"),
        ),
        (
            [{"when": {"outcome": "voicemail"}, "then": {"call": {"at": "night"}}}],
            (0, "then", "no window named 'night' in windows (evening)"),
        ),
    ],
)
def test_validate_names_unreachable_and_contradictory_rules(
    steps: list[dict[str, Any]], problem: tuple[int, str, str]
) -> None:
    found = step_problems(settings(steps=steps, windows={"evening": "17:00-19:30"}))
    assert [(p.index, p.field, p.message) for p in found] == [problem]


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ("20:30-22:00", ["window 'w' never falls inside calling_hours"]),
        (
            {"start": "10:00", "end": "12:00", "days": ["sun"]},
            ["window 'w' never falls inside calling_hours"],
        ),
        ("19:00-21:00", []),  # its part before 20:00 will do
        ("22:00-01:00", []),  # across midnight: not judged
    ],
)
def test_a_window_outside_the_calling_hours_is_refused(window: Any, problem: list[str]) -> None:
    campaign = settings(
        calling_hours={
            "start": "09:00",
            "end": "20:00",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        },
        windows={"w": window},
        steps=[{"when": {"outcome": "voicemail"}, "then": {"call": {"at": "w"}}}],
    )
    assert [p.message for p in step_problems(campaign)] == problem


def test_rules_that_only_overlap_are_both_reachable() -> None:
    steps = [
        {"when": {"outcome": "voicemail", "attempt": 1}, "then": "complete"},
        {"when": {"outcome": "voicemail"}, "then": {"skip": "machine"}},
        {"when": {"analysis.interested": "yes"}, "then": "complete"},
        {"when": {"analysis.interested": "yes", "attempt": 2}, "then": "complete"},
    ]
    found = step_problems(settings(steps=steps))
    assert [(p.index, p.message) for p in found] == [
        (3, "unreachable: steps.2 matches every call this one would")
    ]


def test_a_then_says_exactly_one_thing() -> None:
    with pytest.raises(ValueError, match="exactly one of call, complete, skip or callback"):
        Step.model_validate({"then": {"complete": True, "skip": "x"}})
    with pytest.raises(ValueError, match="is not a reason; did you mean dial_no_answer"):
        Step.model_validate({"when": {"reason": "no_answer"}, "then": "complete"})


def test_what_the_next_call_uses_step_over_variant_over_campaign() -> None:
    variant = Variant(
        name="B", agent_id="agent_b", agent_version=7, dynamic_variables={"opening": "short"}
    )
    base = settings()
    assert call_settings(base, None, None, None).agent_id == "agent_main"
    by_variant = call_settings(base, variant, None, None)
    assert (by_variant.agent_id, by_variant.agent_version) == ("agent_b", 7)
    assert by_variant.dynamic_variables == {"opening": "short"}
    plan = {
        "agent_id": "short",
        "dynamic_variables": {"opening": "evening"},
        "voicemail": {"action": {"type": "hangup"}},
    }
    by_step = call_settings(base, variant, plan, {"action": {"type": "static_text", "text": "x"}})
    assert (by_step.agent_id, by_step.agent_version) == (
        "short",
        None,
    )  # another agent: its own version
    assert by_step.dynamic_variables == {"opening": "evening"}
    assert by_step.voicemail == {"action": {"type": "hangup"}}
    assert call_settings(base, variant, {"agent_version": 9}, None).agent_version == 9


# -- every README example compiles, without a problem --------------------------------------


def _readme_examples() -> list[dict[str, Any]]:
    text = README.read_text()
    section = text[
        text.index("\n## Steps\n") : text.index("\n## Calling hours, do-not-call and callbacks\n")
    ]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) >= 2
    return [yaml.safe_load(block) for block in blocks]


@pytest.mark.parametrize("example", _readme_examples())
def test_every_readme_example_compiles(example: dict[str, Any]) -> None:
    variants = [{"name": "A", "agent_id": "agent_a"}, {"name": "B", "agent_id": "agent_b"}]
    campaign = settings(**example, variants=variants)
    assert step_problems(campaign) == []
    lines = describe_steps(campaign)
    assert len(lines) == len(example["steps"]) + 3  # yours, the retry block's two, otherwise
    assert lines[-1].startswith("otherwise: reached someone → complete")


def test_the_readme_sequence_routes_as_it_says() -> None:
    example = _readme_examples()[0]
    rules = campaign_steps(settings(**example))
    callback = {"custom_analysis_data": {"callback_requested": True}}
    assert route(rules, ended("user_hangup", INTERESTED), 1, 3).action == "complete"
    assert route(rules, ended("user_hangup", callback), 1, 3).wait == timedelta(days=7)
    evening = route(rules, ended("voicemail_reached"), 1, 3)
    assert (evening.window, evening.plan and evening.plan["agent_id"]) == ("evening", "agent_short")
    saturday = route(rules, ended("dial_no_answer", attempt=2), 2, 3)
    assert (saturday.window, saturday.next_number) == ("saturday_morning", True)


# -- a named window's next opening, inside the calling rules -------------------------------

CHICAGO_WED_0900 = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)  # 09:00 in Chicago, a Wednesday


@pytest.mark.parametrize(
    ("window", "skip_dates", "expected_local"),
    [
        ("17:00-19:30", [], "2027-03-03 17:00"),
        ("17:00-19:30", ["2027-03-03"], "2027-03-04 17:00"),  # not on a skip date
        ({"start": "09:00", "end": "12:00", "days": ["sat"]}, [], "2027-03-06 09:00"),
        ("19:00-21:00", [], "2027-03-03 19:00"),  # its part inside calling hours
        ("08:00-10:00", [], "2027-03-03 09:00"),  # open now, inside calling hours from 09:00
        ("20:30-22:00", [], "2027-03-03 20:30"),  # never inside them: its own opening
    ],
)
def test_a_named_window_opens_inside_the_calling_rules(
    window: Any, skip_dates: list[str], expected_local: str
) -> None:
    campaign = settings(
        calling_hours={"start": "09:00", "end": "20:00", "timezone": "America/Chicago"},
        skip_dates=skip_dates,
        windows={"w": window},
    )
    rules = CallingRules.of(campaign, {})
    assert campaign.calling_hours is not None
    at = window_opening(
        campaign.windows["w"], campaign.calling_hours, "", CHICAGO_WED_0900, rules=rules
    )
    assert f"{at.astimezone(zone('America/Chicago')):%Y-%m-%d %H:%M}" == expected_local


def test_a_window_wait_is_none_inside_the_window_and_the_opening_outside_it() -> None:
    campaign = settings(windows={"evening": "17:00-19:30"})
    plan = {"window": "evening"}
    at_five = datetime(2027, 3, 3, 23, 30, tzinfo=UTC)  # 17:30 in Chicago
    assert window_wait(campaign, plan, "America/Chicago", at_five) is None
    assert window_wait(campaign, None, "America/Chicago", CHICAGO_WED_0900) is None
    opening = window_wait(campaign, plan, "America/Chicago", CHICAGO_WED_0900)
    assert opening == datetime(2027, 3, 3, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="days is empty"):
        settings(windows={"never": {"start": "17:00", "end": "18:00", "days": []}})
