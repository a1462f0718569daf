"""The failure-spike breaker's verdict. Pure."""

from __future__ import annotations

import pytest

from dialer.domain.breaker import rejection_spike
from dialer.domain.campaign import FailureBreaker

RULES = FailureBreaker(window=10, max_failure_share=0.5)
FAILED = ("not_connected", "dial_failed")
REACHED = ("ended", "user_hangup")


SPIKE = (
    "the last 5 creates were all refused alike (400: from_number not found); check the "
    "from-number, the agent and the campaign file, then `dialer resume`"
)


@pytest.mark.parametrize(
    ("latest", "reason"),
    [
        (["400: from_number not found"] * 5, SPIKE),
        (["400: from_number not found"] * 4, None),  # not yet
        ([None, *["400: x"] * 4], None),  # one create placed a call within the window
        (["400: x"] * 4 + ["422: y"], None),  # refused, but not alike: leads' own problems
        ([None] * 5, None),
    ],
)
def test_creates_refused_alike_one_after_another_pause(
    latest: list[str | None], reason: str | None
) -> None:
    assert rejection_spike(latest) == reason
