"""Pause, resume and cancel rules. Pure."""

from __future__ import annotations

import pytest

from dialer.domain import lifecycle
from dialer.domain.states import CampaignStatus


def test_pause_applies_to_an_active_campaign_only() -> None:
    assert lifecycle.pause("c", CampaignStatus.ACTIVE).status is CampaignStatus.PAUSED
    change = lifecycle.pause("c", CampaignStatus.FINISHED)
    assert (change.status, change.message) == (None, "c is finished; nothing to pause")


def test_a_cancelled_campaign_stays_cancelled() -> None:
    assert lifecycle.resume("c", CampaignStatus.PAUSED).status is CampaignStatus.ACTIVE
    with pytest.raises(lifecycle.ControlRefusedError, match="stays so"):
        lifecycle.resume("c", CampaignStatus.CANCELLED)


@pytest.mark.parametrize(
    ("status", "after"),
    [
        (CampaignStatus.ACTIVE, CampaignStatus.ACTIVE),
        (CampaignStatus.FINISHED, CampaignStatus.ACTIVE),  # new rows in the file are dialed
        (CampaignStatus.PAUSED, CampaignStatus.PAUSED),  # the run waits for a resume
        (CampaignStatus.CANCELLED, None),
    ],
)
def test_what_a_run_does_with_a_loaded_campaign(
    status: CampaignStatus, after: CampaignStatus | None
) -> None:
    assert lifecycle.status_for_a_run(status) is after


@pytest.mark.parametrize(
    ("kinds", "said"),
    [
        (
            [],
            "c resumed; no process is serving it now: start `dialer run FILE` or a `dialer worker` to dial it",
        ),
        (["run"], "c resumed; served by 1 `dialer run`"),
        (["run", "worker", "worker"], "c resumed; served by 1 `dialer run` and 2 `dialer worker`"),
    ],
)
def test_resume_says_whether_anyone_serves_the_campaign(kinds: list[str], said: str) -> None:
    assert lifecycle.serving_message("c resumed", "c", kinds) == said


@pytest.mark.parametrize(
    ("transition", "status", "applies"),
    [
        (lifecycle.paused(lifecycle.Cause.BUDGET, "budget reached"), CampaignStatus.ACTIVE, True),
        # a campaign a person paused or cancelled meanwhile keeps its status
        (lifecycle.paused(lifecycle.Cause.FAILURE_SPIKE, "spike"), CampaignStatus.PAUSED, False),
        (lifecycle.paused(lifecycle.Cause.ACCOUNT, "credit"), CampaignStatus.CANCELLED, False),
        (lifecycle.finished(), CampaignStatus.ACTIVE, True),
        (lifecycle.finished(), CampaignStatus.PAUSED, False),
        (lifecycle.resumed(), CampaignStatus.PAUSED, True),
        (lifecycle.resumed(), CampaignStatus.CANCELLED, False),
        (lifecycle.reopened(), CampaignStatus.FINISHED, True),
        (lifecycle.reopened(), CampaignStatus.PAUSED, False),
        (lifecycle.cancelled(), CampaignStatus.PAUSED, True),
    ],
)
def test_a_transition_applies_only_from_the_statuses_it_names(
    transition: lifecycle.Transition, status: CampaignStatus, applies: bool
) -> None:
    assert (status in transition.from_statuses) is applies


def test_active_again_restarts_the_breaker_and_a_person_says_why() -> None:
    assert lifecycle.resumed().restarts_breaker and lifecycle.reopened().restarts_breaker
    assert not lifecycle.paused_by_person().restarts_breaker
    assert lifecycle.paused_by_person().reason == "paused by a person"
    assert lifecycle.cancelled().reason == "cancelled by a person"
