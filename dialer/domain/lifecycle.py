"""Pausing, resuming and cancelling a campaign: which status follows from which, and what a
person is told."""

from __future__ import annotations

from dataclasses import dataclass

from dialer.domain.states import CampaignStatus


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
