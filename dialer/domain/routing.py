"""Routing a lead by its steps: the first rule whose `when` matches the last attempt decides
what follows (pure; dialer.domain.policy turns the route into the lead's next state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from dialer.domain.calls import CallStatus
from dialer.domain.campaign import CallingHours, CampaignSettings
from dialer.domain.reasons import ANY_ERROR, KNOWN_REASONS, NEVER_CONNECTED, REACHED
from dialer.domain.steps import NEXT_DAY, Family, LocalWindow, Step, When, canon, retry_steps

MACHINE_REASONS = frozenset({"voicemail_reached", "machine_detected", "ivr_reached"})
NO_ANSWER = frozenset({"dial_no_answer", "registered_call_timeout"})
BUSY = frozenset({"dial_busy", "user_declined"})
Action = Literal["call", "complete", "skip", "callback", "fail"]


def is_error(call_status: str, reason: str | None) -> bool:
    """Status error, every error_* reason, and any reason this version does not know."""
    if call_status == CallStatus.ERROR or (reason or "").startswith("error"):
        return True
    return reason is not None and reason not in KNOWN_REASONS


def family(call_status: str, reason: str | None) -> Family:
    """The reason family a call's end belongs to."""
    if is_error(call_status, reason):
        return "error"
    if reason in MACHINE_REASONS:
        return "voicemail"
    if reason in NO_ANSWER:
        return "no_answer"
    if reason in BUSY:
        return "busy"
    if call_status == CallStatus.ENDED and (reason is None or reason in REACHED):
        return "connected"
    return "failed"


@dataclass(frozen=True)
class LastCall:
    """What the rules may look at: the last attempt and how it ended."""

    call_status: str
    reason: str | None
    attempt: int = 1  # its number (1: the lead's first)
    alternate: bool = False  # placed to an alternate number
    variant: str | None = None
    analysis: Mapping[str, Any] | None = None  # Retell's call_analysis, when known


def _analysis_value(analysis: Mapping[str, Any], key: str) -> object:
    custom = analysis.get("custom_analysis_data")
    if isinstance(custom, Mapping) and key in custom:
        return custom[key]
    return analysis.get(key)


def matches(when: When, last: LastCall) -> bool:
    """Whether every condition of `when` holds for `last` (an analysis condition never holds
    while the analysis is unknown)."""
    if when.outcome is not None and family(last.call_status, last.reason) not in when.outcome:
        return False
    if when.reason is not None and not _reason_in(when.reason, last):
        return False
    if when.attempt is not None and last.attempt not in when.attempt:
        return False
    if (
        when.number is not None
        and ("alternate" if last.alternate else "primary") not in when.number
    ):
        return False
    if when.variant is not None and last.variant not in when.variant:
        return False
    if not when.reads_analysis:
        return True
    analysis = last.analysis or {}
    if not analysis:
        return False
    for flag in ("call_successful", "in_voicemail"):
        wanted = getattr(when, flag)
        if wanted is not None and canon(analysis.get(flag)) != canon(wanted):
            return False
    sentiment = when.user_sentiment
    if sentiment is not None and canon(analysis.get("user_sentiment")) not in sentiment:
        return False
    for key, values in when.analysis.items():
        found = _analysis_value(analysis, key)
        if found is None or values is None or canon(found) not in values:
            return False
    return True


def _reason_in(reasons: Sequence[str], last: LastCall) -> bool:
    if last.reason is not None and last.reason in reasons:
        return True
    return ANY_ERROR in reasons and is_error(last.call_status, last.reason)


@dataclass(frozen=True)
class Route:
    """What follows a call: `call` again after `wait` (and in `window`, with `plan`), or
    `complete`, `skip` (`reason`), `callback` (after `wait`, or the next day's window), or
    `fail`. `step`: the rule that decided (1-based in the compiled list; 0: none did)."""

    action: Action
    why: str
    step: int = 0
    wait: timedelta = timedelta(0)
    window: str | None = None
    plan: dict[str, Any] | None = None
    next_number: bool = False
    next_day: bool = False
    reason: str | None = None


def route(steps: Sequence[Step], last: LastCall, attempts_spent: int, max_attempts: int) -> Route:
    """The first rule that matches decides; without one, a call that reached someone completes
    and any other fails. A call again needs an attempt left (else the lead fails, its
    max_attempts spent); a callback without one completes."""
    what = last.reason or last.call_status
    left = attempts_spent < max_attempts
    for index, step in enumerate(steps, start=1):
        if not matches(step.when, last):
            continue
        then = step.then
        if then.complete:
            return Route("complete", what, index)
        if then.skip is not None:
            return Route("skip", then.skip, index, reason=then.skip)
        if then.callback is not None:
            if not left:
                return Route("complete", "callback requested, no attempts left", index)
            if then.callback == NEXT_DAY:
                return Route("callback", "callback requested", index, next_day=True)
            assert isinstance(then.callback, timedelta)
            return Route("callback", "callback requested", index, wait=then.callback)
        call = then.call
        assert call is not None
        if not left:
            return Route("fail", f"{what}; max_attempts spent", index)
        wait = call.after[max(0, min(attempts_spent - 1, len(call.after) - 1))]
        return Route(
            "call",
            what,
            index,
            wait=wait,
            window=call.at,
            plan=call.plan(),
            next_number=call.number == "next_alternate",
        )
    if last.reason in REACHED and last.call_status == CallStatus.ENDED:
        return Route("complete", what)
    return Route("fail", what)


def campaign_steps(settings: CampaignSettings) -> list[Step]:
    """The campaign's rules as routed: its own steps first, then its `retry` block's."""
    retry = settings.retry
    return [*settings.steps, *retry_steps(retry.retry_on, retry.backoff, retry.callback_delay)]


def reads_analysis(steps: Sequence[Step]) -> bool:
    """Whether any rule needs a call's analysis."""
    return any(step.when.reads_analysis for step in steps)


# -- checking a file's steps ---------------------------------------------------------------

_NEVER_REACHED = NEVER_CONNECTED - {"concurrency_limit_reached", "no_concurrency_fallback"}


def _covers(earlier: When, later: When) -> bool:
    """Whether every call's end `later` matches, `earlier` matches too (a sound but partial
    check: it may miss some covering pairs, never claims a false one)."""
    for name in ("outcome", "reason", "attempt", "number", "variant", "call_successful"):
        wanted = getattr(earlier, name)
        if wanted is None:
            continue
        theirs = getattr(later, name)
        if theirs is None:
            return False
        if isinstance(wanted, tuple):
            if not set(theirs) <= set(wanted):
                return False
        elif wanted != theirs:
            return False
    for name in ("in_voicemail", "user_sentiment"):
        wanted = getattr(earlier, name)
        if wanted is not None and wanted != getattr(later, name):
            return False
    for key, values in earlier.analysis.items():
        theirs = later.analysis.get(key)
        if values is None or theirs is None or not set(theirs) <= set(values):
            return False
    return True


def _contradiction(when: When) -> str | None:
    """Why no call's end can ever match `when` (None: some can)."""
    families = set(when.outcome) if when.outcome is not None else None
    if families is not None and when.reason is not None:
        fits = [r for r in when.reason if _family_of(r) in families]
        if not fits:
            return f"reason {', '.join(when.reason)} is never outcome {', '.join(families)}"
    connected = families is None or families & {"connected", "voicemail"}
    if when.reads_analysis and not connected:
        return "an analysis condition never holds for calls that did not connect"
    if when.reason is not None and when.reads_analysis and set(when.reason) <= _NEVER_REACHED:
        return "an analysis condition never holds for calls that did not connect"
    if when.attempt is not None and any(a < 1 for a in when.attempt):
        return "attempt numbers start at 1"
    return None


def _family_of(reason: str) -> Family:
    if reason == ANY_ERROR or reason.startswith("error"):
        return "error"
    status = CallStatus.NOT_CONNECTED if reason in NEVER_CONNECTED else CallStatus.ENDED
    return family(status, reason)


@dataclass(frozen=True)
class StepProblem:
    index: int  # 0-based, in the file's `steps`
    field: str  # "when" or "then"
    message: str


def step_problems(settings: CampaignSettings) -> list[StepProblem]:
    """Unreachable rules (an earlier rule matches everything they would), contradictory ones
    (no call's end can match), and names the file does not declare (windows, variants)."""
    problems = []
    steps = settings.steps
    variants = {v.name for v in settings.variants}
    for index, step in enumerate(steps):
        why = _contradiction(step.when)
        top = settings.retry.max_attempts
        if why is None and step.when.attempt is not None and min(step.when.attempt) > top:
            why = f"attempt {min(step.when.attempt)} is beyond max_attempts ({top})"
        if why is not None:
            problems.append(StepProblem(index, "when", f"never matches: {why}"))
        for earlier in range(index):
            if _covers(steps[earlier].when, step.when):
                message = f"unreachable: steps.{earlier} matches every call this one would"
                problems.append(StepProblem(index, "when", message))
                break
        for name in step.when.variant or ():
            if name not in variants:
                problems.append(StepProblem(index, "when", f"no variant named {name!r}"))
        call = step.then.call
        if call is not None and call.at is not None and call.at not in settings.windows:
            known = ", ".join(sorted(settings.windows)) or "none declared"
            message = f"no window named {call.at!r} in windows ({known})"
            problems.append(StepProblem(index, "then", message))
        elif call is not None and call.at is not None and settings.calling_hours is not None:
            named = settings.windows[call.at]
            if not _overlaps(named, settings.calling_hours):
                message = f"window {call.at!r} never falls inside calling_hours"
                problems.append(StepProblem(index, "then", message))
        unbound = settings.agent_id is None and not settings.variants
        versioned = call is not None and call.agent_version is not None and not call.agent_id
        if versioned and unbound:
            problems.append(StepProblem(index, "then", "agent_version needs an agent_id"))
    return problems


def _overlaps(named: LocalWindow, hours: CallingHours) -> bool:
    """Whether a named window and the calling hours share a local minute on a common day (a
    window across midnight is given the benefit of the doubt)."""
    if named.end < named.start or hours.end < hours.start:
        return True
    days = set(named.days) & set(hours.days)
    return bool(days) and max(named.start, hours.start) < min(named.end, hours.end)


def describe_steps(settings: CampaignSettings) -> list[str]:
    """The compiled steps, one line each, as `dialer validate` prints them."""
    lines = []
    own = len(settings.steps)
    for index, step in enumerate(campaign_steps(settings), start=1):
        conditions = step.when.conditions()
        when = ", ".join(f"{k}={_show(v)}" for k, v in conditions.items()) or "any end"
        source = "steps" if index <= own else "retry"
        lines.append(f"{index}. when {when} → {step.then.describe()}  [{source}]")
    max_attempts = settings.retry.max_attempts
    lines.append(f"otherwise: reached someone → complete, else fail; at most {max_attempts} calls")
    return lines


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return "|".join(str(v) for v in value)
    return str(value)
