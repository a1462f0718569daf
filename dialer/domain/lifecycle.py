"""A campaign's lifecycle, in one place: every change of its status — by a person (pause,
resume, cancel), by itself (its budget, a failure spike, an account outcome, no from-number
left) and at its end (finished, or opened again by new leads) — is a typed `Transition` made
here and written by one store verb, which applies it only from the statuses it names (a
campaign cancelled meanwhile stays cancelled). Also what a person is told."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.domain.states import CANCELLED_BY_A_PERSON, PAUSED_BY_A_PERSON, CampaignStatus

ACTIVE, PAUSED = CampaignStatus.ACTIVE, CampaignStatus.PAUSED
CANCELLED, FINISHED = CampaignStatus.CANCELLED, CampaignStatus.FINISHED


class Cause(StrEnum):
    """Why a campaign's status changes (the metrics' and logs' word for it)."""

    PERSON = "person"
    BUDGET = "budget"
    FAILURE_SPIKE = "failure_spike"
    ACCOUNT = "account"  # an account or number outcome: credit_exhausted, marked_as_spam, …
    NO_NUMBER_LEFT = "no_number_left"
    FINISHED = "finished"
    RESUMED = "resumed"
    REOPENED = "reopened"  # a finished campaign whose list gained leads
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Transition:
    """A status change: to `status` with `reason`, applied only from `from_statuses`."""

    status: CampaignStatus
    reason: str | None
    cause: Cause
    from_statuses: frozenset[CampaignStatus]
    # active again: the failure-spike breaker counts calls from now on
    restarts_breaker: bool = False


def paused(cause: Cause, reason: str) -> Transition:
    """The campaign pauses itself (or a person pauses it): only an active one."""
    return Transition(PAUSED, reason, cause, frozenset({ACTIVE}))


def paused_by_person() -> Transition:
    return paused(Cause.PERSON, PAUSED_BY_A_PERSON)


def resumed() -> Transition:
    """Active again (a cancelled campaign stays cancelled)."""
    return Transition(ACTIVE, None, Cause.RESUMED, frozenset({ACTIVE, PAUSED, FINISHED}), True)


def reopened() -> Transition:
    """A finished campaign whose list gained leads is dialed again."""
    return Transition(ACTIVE, None, Cause.REOPENED, frozenset({FINISHED}), True)


def finished() -> Transition:
    """Every lead is done (the store checks that under the campaign's lock)."""
    return Transition(FINISHED, None, Cause.FINISHED, frozenset({ACTIVE}))


def cancelled() -> Transition:
    return Transition(
        CANCELLED, CANCELLED_BY_A_PERSON, Cause.CANCELLED, frozenset({ACTIVE, PAUSED, FINISHED})
    )


class ControlRefusedError(Exception):
    """The action does not apply to the campaign as it stands (a usage error)."""


@dataclass(frozen=True)
class Change:
    """The status to write (None: nothing to write) and what to tell the person."""

    status: CampaignStatus | None
    message: str


def pause(name: str, status: CampaignStatus) -> Change:
    if status is not CampaignStatus.ACTIVE:
        return Change(None, f"{name} is {status}; nothing to pause")
    return Change(
        CampaignStatus.PAUSED,
        f"{name} paused: no new calls; calls in progress are followed to the end",
    )


def resume(name: str, status: CampaignStatus) -> Change:
    if status is CampaignStatus.CANCELLED:
        raise ControlRefusedError(f"{name} was cancelled; a cancelled campaign stays so")
    return Change(CampaignStatus.ACTIVE, f"{name} resumed")


def cancelled_message(name: str, skipped: int) -> str:
    return (
        f"{name} cancelled: {skipped:,} waiting lead(s) skipped; "
        "calls in progress are followed to the end"
    )


def status_for_a_run(status: CampaignStatus) -> CampaignStatus | None:
    """What `dialer run` does with a campaign it loaded: a finished one with new rows is
    opened again (ACTIVE); a paused one stays paused (the run waits for a resume); a cancelled
    one is not run (None); an active one runs."""
    if status is CampaignStatus.CANCELLED:
        return None
    if status is CampaignStatus.PAUSED:
        return CampaignStatus.PAUSED
    return CampaignStatus.ACTIVE


def serving_message(message: str, name: str, kinds: list[str]) -> str:
    """What `dialer resume` adds: whether a live process will dial the campaign now."""
    if not kinds:
        return (
            f"{message}; no process is serving it now: start `dialer run FILE` or a "
            f"`dialer worker` to dial it"
        )
    runs, workers = kinds.count("run"), kinds.count("worker")
    parts = [f"{n} `dialer {kind}`" for kind, n in (("run", runs), ("worker", workers)) if n]
    return f"{message}; served by {' and '.join(parts)}"
