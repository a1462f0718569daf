"""Caller IDs: which of a campaign's from-numbers dials a lead, when a number is worn out, and
what voicemail option each attempt sends. Pure functions of counts the store reads.

A lead keeps the from-number it was first dialed from (a callee who calls back reaches the
same line) for as long as that number is usable. With local presence a new lead gets a pool
number with its area code, else one in its state, else any; among those, the least used in the
last 24 hours. A number at its daily ceiling makes its leads wait, never spend an attempt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dialer.domain.campaign import NumberHealth, VoicemailPolicy
from dialer.domain.policy import MARKED_AS_SPAM
from dialer.domain.state_rules import states_of

AT_CEILING = "from_number_ceiling"  # the wait reason of a lead whose numbers are all busy today
NO_NUMBER_LEFT = "every from-number is retired"


@dataclass(frozen=True)
class PoolNumber:
    """One from-number of a campaign's pool, as a claim sees it."""

    number: str
    area_code: str | None  # NANP area code, None outside +1
    state: str | None  # its area code's US state
    calls_last_day: int = 0  # across every campaign of the store
    retired: bool = False
    last_call_at: datetime | None = None  # its latest call, in any campaign
    oldest_call_at: datetime | None = None  # its oldest call of the last day


def count_call(
    pool: Sequence[PoolNumber], number: str, at: datetime | None = None
) -> list[PoolNumber]:
    """The pool after one more call from `number` (a claim batch counts as it assigns)."""
    return [
        replace(p, calls_last_day=p.calls_last_day + 1, last_call_at=at or p.last_call_at)
        if p.number == number
        else p
        for p in pool
    ]


def area_code(e164: str) -> str | None:
    return e164[2:5] if e164.startswith("+1") and len(e164) == 12 else None


def usable(pool: Sequence[PoolNumber]) -> list[PoolNumber]:
    return [p for p in pool if not p.retired]


def choose_from_number(
    pool: Sequence[PoolNumber],
    *,
    sticky: str | None,
    to_number: str,
    lead_states: str,
    local_presence: bool,
    ceiling: int | None,
) -> str | None:
    """The from-number that dials this lead now, or None: its suitable numbers are all at
    their ceiling today (it waits), or none is left."""

    def has_room(number: PoolNumber) -> bool:
        return ceiling is None or number.calls_last_day < ceiling

    live = usable(pool)
    if sticky is not None:
        mine = next((p for p in live if p.number == sticky), None)
        if mine is not None:
            return mine.number if has_room(mine) else None
    suitable = live
    if local_presence:
        states = set(states_of(lead_states))
        by_area = [p for p in live if p.area_code and p.area_code == area_code(to_number)]
        by_state = [p for p in live if p.state and p.state in states]
        suitable = by_area or by_state or live
    roomy = [p for p in suitable if has_room(p)]
    if not roomy:
        return None
    # The least used in the last day; among equals the one idle longest, so ties rotate.
    return min(roomy, key=_spread_order).number


def _spread_order(number: PoolNumber) -> tuple[int, float, str]:
    idle_since = number.last_call_at.timestamp() if number.last_call_at else float("-inf")
    return (number.calls_last_day, idle_since, number.number)


def retire_reason(health: NumberHealth | None, latest: Sequence[str | None]) -> str | None:
    """Why a from-number is worn out, from its latest calls' disconnection reasons (newest
    first), or None. One `marked_as_spam` is enough; else a share of failures over a window."""
    if latest and latest[0] == MARKED_AS_SPAM:
        return MARKED_AS_SPAM
    if health is None:
        return None
    window = list(latest)[: health.window]
    if len(window) < health.window:
        return None
    failed = [r for r in window if r in health.failures]
    if len(failed) / len(window) < health.max_failure_share:
        return None
    common = ", ".join(f"{r} {n}" for r, n in Counter(failed).most_common(2))
    return f"{len(failed)} of its last {len(window)} calls failed ({common})"


def voicemail_option(
    policy: VoicemailPolicy | None, attempt_number: int, max_attempts: int
) -> dict[str, Any] | None:
    """`agent_override.agent.voicemail_option` for one attempt (None: the agent's own)."""
    if policy is None:
        return None
    leave = policy.leave_message == "every_attempt" or (
        policy.leave_message == "last_attempt" and attempt_number >= max_attempts
    )
    if not leave:
        return {"action": {"type": "hangup"}}
    if policy.prompt is not None:
        return {"action": {"type": "prompt", "text": policy.prompt}}
    return {"action": {"type": "static_text", "text": policy.message or ""}}


def leaves_message(option: dict[str, Any] | None) -> bool:
    return option is not None and option["action"]["type"] != "hangup"
