"""The names a campaign file may give outcomes (retry_on, breaker and number_health failures):
Retell's disconnection reasons and `error`, each checked with a did-you-mean. Pure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from dialer.domain.campaign import DEFAULT_RETRY_ON, FROM_STORE, CampaignSettings
from dialer.domain.policy import KNOWN_REASONS
from dialer.domain.reasons import (
    DISCONNECTION_REASONS,
    ERROR_REASONS,
    OUTCOME_NAMES,
    check_outcome_name,
)
from dialer.domain.spelling import closest
from dialer.simulator.outcomes import DEFAULT_MIX

BASE = {"name": "c", "from_number": "+14155550100"}


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("no_answer", "dial_no_answer"),
        ("busy", "dial_busy"),
        ("voicemail", "voicemail_reached"),
        ("eror", "error"),
        ("machine_detect", "machine_detected"),
        ("DIAL_BUSY", "dial_busy"),
    ],
)
def test_a_misspelt_reason_is_refused_naming_the_one_meant(written: str, meant: str) -> None:
    with pytest.raises(ValueError, match=f"^{written} is not a reason; did you mean {meant}\\?$"):
        check_outcome_name(written)


def test_a_name_like_no_reason_points_at_the_list() -> None:
    with pytest.raises(ValueError, match="README lists the reasons"):
        check_outcome_name("zzzz")


def test_every_reason_retell_reports_is_known() -> None:
    assert set(DEFAULT_RETRY_ON) <= OUTCOME_NAMES
    assert KNOWN_REASONS | ERROR_REASONS == DISCONNECTION_REASONS
    assert {"machine_detected", "error_twilio", "error_frontend_corrupted_payload"} <= (
        DISCONNECTION_REASONS
    )
    # the simulator keeps its own copy; every reason it produces must be one a file may name
    assert {reason for reason, _weight in DEFAULT_MIX} <= DISCONNECTION_REASONS


@pytest.mark.parametrize(
    ("section", "values", "bad_index"),
    [
        ({"retry": {"retry_on": ["dial_busy", "no_answer"]}}, "retry.retry_on", 1),
        ({"breaker": {"failures": ["dial_failed", "eror"]}}, "breaker.failures", 1),
        ({"number_health": {"failures": ["dial_faild"]}}, "number_health.failures", 0),
        ({"number_health": {"failures": ["dial_failed", "error"]}}, "number_health.failures", 1),
    ],
)
def test_settings_refuse_an_unknown_name_at_its_item(
    section: dict[str, object], values: str, bad_index: int
) -> None:
    with pytest.raises(ValidationError) as caught:
        CampaignSettings.model_validate({**BASE, **section})
    locs = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    assert locs == [f"{values}.{bad_index}"]


def test_error_covers_every_error_reason_in_retry_on_but_not_in_number_health() -> None:
    CampaignSettings.model_validate({**BASE, "retry": {"retry_on": ["error"]}})
    CampaignSettings.model_validate({**BASE, "number_health": {"failures": ["error_asr"]}})
    with pytest.raises(ValidationError, match="list the error_\\* reasons you mean"):
        CampaignSettings.model_validate({**BASE, "number_health": {"failures": ["error"]}})


def test_settings_read_back_from_the_store_keep_names_a_later_version_refuses() -> None:
    """A campaign loaded by an older version may hold a name this one refuses; a worker must
    still read it (the name just never matches)."""
    config = {**BASE, "retry": {"retry_on": ["no_answer", "dial_busy"]}}
    with pytest.raises(ValidationError):
        CampaignSettings.model_validate(config)
    stored = CampaignSettings.model_validate(config, context=FROM_STORE)
    assert stored.retry.retry_on == ["no_answer", "dial_busy"]


@pytest.mark.parametrize(
    ("word", "choices", "meant"),
    [
        ("fl", ["FL", "GA"], "FL"),
        ("last", ["last_attempt", "every_attempt", "never"], "last_attempt"),
        ("teu", ["mon", "tue", "wed"], "tue"),
        ("la", ["last_attempt", "lasting"], None),  # too short to complete, too far to correct
        ("xyz", ["mon", "tue"], None),
    ],
)
def test_closest(word: str, choices: list[str], meant: str | None) -> None:
    assert closest(word, choices) == meant


def test_the_readme_lists_every_reason() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("**`retry_on` reasons.**", 1)[1].split("Every other value", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section)) - {
        "retry_on",
        "breaker",
        "failures",
        "number_health",
        "error",
    }
    assert listed == DISCONNECTION_REASONS
