"""The failure-spike breaker: a pure verdict on a campaign's latest calls. A broken from-number
or agent makes every call fail the same way; pausing after a window of such calls keeps the
list from being burned through."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from dialer.domain.campaign import FailureBreaker
from dialer.domain.policy import is_error_outcome

Outcome = tuple[str, str | None]  # (call_status, disconnection_reason)


def is_failure(rules: FailureBreaker, call_status: str, reason: str | None) -> bool:
    if reason is not None and reason in rules.failures:
        return True
    return "error" in rules.failures and is_error_outcome(call_status, reason)


def trip_reason(rules: FailureBreaker, latest: Sequence[Outcome]) -> str | None:
    """Why the campaign must pause, with the figures, or None. `latest`: the campaign's most
    recent calls (newest first), at most `rules.window` of them."""
    window = list(latest)[: rules.window]
    if len(window) < rules.window:
        return None
    failed = [reason or status for status, reason in window if is_failure(rules, status, reason)]
    if len(failed) / len(window) < rules.max_failure_share:
        return None
    common = ", ".join(f"{reason} {n}" for reason, n in Counter(failed).most_common(3))
    return (
        f"failure spike: {len(failed)} of the last {len(window)} calls failed ({common}); "
        "check the from-number and the agent, then `dialer resume`"
    )


REJECTION_SPIKE = 5  # creates refused alike, one after another, that pause a campaign


def rejection_spike(latest: Sequence[str | None]) -> str | None:
    """Why the campaign must pause when its latest creates (newest last: a refusal's
    `status: message`, or None for a create that placed a call) were all refused alike — a
    broken from-number, agent or setting refuses every lead the same way; or None."""
    window = list(latest)[-REJECTION_SPIKE:]
    if len(window) < REJECTION_SPIKE or window[0] is None or len(set(window)) != 1:
        return None
    return (
        f"the last {REJECTION_SPIKE} creates were all refused alike ({window[0]}); check the "
        "from-number, the agent and the campaign file, then `dialer resume`"
    )
