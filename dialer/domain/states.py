"""One vocabulary of states: leads, attempts and campaigns, with the sets the rules need."""

from __future__ import annotations

from enum import StrEnum


class LeadState(StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    IN_CALL = "in_call"
    RETRY_WAIT = "retry_wait"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


# A lead that may be claimed once its next_attempt_at has come.
DUE_LEAD_STATES = (LeadState.PENDING, LeadState.RETRY_WAIT)
TERMINAL_LEAD_STATES = (LeadState.COMPLETED, LeadState.FAILED, LeadState.SKIPPED)
UNFINISHED_LEAD_STATES = tuple(s for s in LeadState if s not in TERMINAL_LEAD_STATES)


class AttemptState(StrEnum):
    DIALING = "dialing"  # claimed; its create request may be on its way
    IN_DOUBT = "in_doubt"  # the create's answer was ambiguous: a call may exist
    PLACED = "placed"  # a call id is known; the call is being followed
    ENDED = "ended"  # the call reached a terminal status
    NOT_PLACED = "not_placed"  # the answer proved no call exists


# An attempt whose create has no settled answer yet: only these may become placed or not placed.
UNSETTLED_ATTEMPT_STATES = (AttemptState.DIALING, AttemptState.IN_DOUBT)
# An attempt holds a concurrency slot, and its number, from the moment its row is written until
# its call is known to be over.
LIVE_ATTEMPT_STATES = (*UNSETTLED_ATTEMPT_STATES, AttemptState.PLACED)


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class SkipReason(StrEnum):
    """Why a lead ended `skipped` (or `failed` without a call), as the store records it.
    Reasons with a variable part (a suppression file's name) are built by `suppressed_by`."""

    DO_NOT_CALL = "do-not-call list"
    CAMPAIGN_CANCELLED = "campaign cancelled"
    NO_TIME_ZONE = "no time zone known for calling hours"
    NEVER_IN_HOURS = "never inside calling hours in its time zones"
    NO_CONSENT = "no consent on record"


def suppressed_by(file_name: str) -> str:
    return f"suppressed by {file_name}"


# The note written on a campaign a person paused or cancelled.
PAUSED_BY_A_PERSON = "paused by a person"
CANCELLED_BY_A_PERSON = "cancelled by a person"
