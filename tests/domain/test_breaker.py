"""The failure-spike breaker's verdict. Pure."""

from __future__ import annotations

import pytest

from dialer.domain.breaker import is_failure, trip_reason
from dialer.domain.campaign import CampaignSettings, FailureBreaker

RULES = FailureBreaker(window=10, max_failure_share=0.5)
FAILED = ("not_connected", "dial_failed")
REACHED = ("ended", "user_hangup")


@pytest.mark.parametrize(
    ("latest", "trips"),
    [
        ([FAILED] * 9, False),  # not a full window yet
        ([FAILED] * 4 + [REACHED] * 6, False),
        ([FAILED] * 5 + [REACHED] * 5, True),
        ([REACHED] * 5 + [FAILED] * 5, True),  # order within the window does not matter
        ([("error", None)] * 3 + [("ended", "error_asr")] * 3 + [REACHED] * 4, True),
        ([("not_connected", "dial_no_answer")] * 10, False),  # no answer is not a broken line
        ([FAILED] * 4 + [REACHED] * 6 + [FAILED] * 10, False),  # only the newest window counts
    ],
)
def test_trip(latest: list[tuple[str, str | None]], trips: bool) -> None:
    assert (trip_reason(RULES, latest) is not None) is trips


def test_the_reason_gives_the_figures() -> None:
    reason = trip_reason(RULES, [FAILED] * 6 + [("ended", "error_asr")] * 2 + [REACHED] * 2)
    assert reason is not None
    assert reason.startswith("failure spike: 8 of the last 10 calls failed (dial_failed 6,")


def test_failures_are_configurable_and_error_covers_unknown_reasons() -> None:
    assert is_failure(RULES, "ended", "brand_new_reason")
    only_invalid = FailureBreaker(failures=["invalid_destination"])
    assert not is_failure(only_invalid, "error", None)
    assert is_failure(only_invalid, "not_connected", "invalid_destination")


def test_on_by_default_and_off_with_false() -> None:
    base = {"name": "c", "from_number": "+14155550100"}
    assert CampaignSettings.model_validate(base).breaker == FailureBreaker()
    assert CampaignSettings.model_validate({**base, "breaker": False}).breaker is None
    custom = CampaignSettings.model_validate({**base, "breaker": {"window": 20}})
    assert custom.breaker is not None and custom.breaker.window == 20
