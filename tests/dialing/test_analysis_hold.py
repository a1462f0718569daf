"""A campaign whose steps read a call's analysis settles a connected call once its analysis is
in (Retell gives it after the end), or without it once it is given up on; a campaign whose
steps do not read it settles every call at its end, as before. On the fakes, virtual time."""

from __future__ import annotations

import anyio
import pytest

from dialer.dialing.options import RunOutcome
from dialer.domain.states import AttemptState

from ..fakes import Ending
from ..helpers import numbers
from .harness import Rig

pytestmark = pytest.mark.anyio

STEPS = {
    "steps": [
        {"when": {"analysis.interested": "yes"}, "then": "complete"},
        {"when": {"reason": "user_hangup"}, "then": {"skip": "not interested"}},
    ]
}


async def test_a_connected_call_waits_for_its_analysis_when_a_step_reads_it(rig: Rig) -> None:
    late, never, unanswered = numbers(3)
    rig.api.endings[late] = [
        Ending(seconds=10.0, answers={"interested": "yes"}, analysis_after=45.0)
    ]
    rig.api.endings[never] = [
        Ending(seconds=10.0, answers={"interested": "yes"}, analysis_after=1e6)
    ]
    rig.api.endings[unanswered] = [Ending("dial_no_answer", "not_connected", 20.0)]
    campaign = rig.campaign(3, max_attempts=1, extra=STEPS)

    assert (await rig.run(campaign)).outcome is RunOutcome.FINISHED

    states = rig.lead_states(campaign)
    assert states[late] == ("completed", 1)  # its analysis came 45 s after the end: waited for
    assert states[unanswered] == ("failed", 1)  # not connected: no analysis to wait for
    # never analyzed: settled without it once given up on, the analysis rule not matching
    assert states[never] == ("skipped", 1)
    skipped = next(lead for lead in rig.store.leads.values() if lead.to_number == never)
    assert skipped.skip_reason == "not interested"


async def test_without_an_analysis_step_a_call_is_settled_at_its_end(rig: Rig) -> None:
    (late,) = numbers(1)
    rig.api.endings[late] = [
        Ending(seconds=10.0, answers={"interested": "yes"}, analysis_after=1e6)
    ]
    steps = {"steps": [{"when": {"reason": "user_hangup"}, "then": {"skip": "hung up"}}]}
    campaign = rig.campaign(1, max_attempts=1, extra=steps)

    assert (await rig.run(campaign)).outcome is RunOutcome.FINISHED
    assert rig.lead_states(campaign)[late] == ("skipped", 1)
    ended = rig.events("call_ended")
    assert len(ended) == 1 and ended[0]["why"] == "hung up"


async def test_a_call_held_for_its_analysis_is_settled_by_whoever_takes_it_over(rig: Rig) -> None:
    """The runner dies while its call waits for the analysis (the attempt stays placed, its
    lease stands); the next runner takes it over and settles it once the analysis is in. A
    step's plan for the next attempt, written at a call's end, survives the death too."""
    interested, voicemail = numbers(2)
    rig.api.endings[interested] = [
        Ending(seconds=10.0, answers={"interested": "yes"}, analysis_after=120.0)
    ]
    rig.api.endings[voicemail] = [
        Ending("voicemail_reached", seconds=10.0, analysis_after=120.0),
        Ending(seconds=10.0, answers={"interested": "yes"}),
    ]
    steps = {
        "steps": [
            {"when": {"analysis.interested": "yes"}, "then": "complete"},
            {
                "when": {"outcome": "voicemail"},
                "then": {"call": {"after": "5m", "agent_id": "short"}},
            },
        ]
    }
    campaign = rig.campaign(2, max_attempts=2, extra=steps)

    with anyio.move_on_after(60.0):  # it dies a minute in: both calls over, no analysis yet
        await rig.run(campaign, rig.options("dead", lease_seconds=10.0))
    placed = [a for a in rig.store.attempts.values() if a.state is AttemptState.PLACED]
    assert {a.to_number for a in placed} == {interested, voicemail}  # held, not settled

    result = await rig.run(campaign, rig.options("heir", lease_seconds=10.0))

    assert result.outcome is RunOutcome.FINISHED
    assert rig.lead_states(campaign) == {interested: ("completed", 1), voicemail: ("completed", 2)}
    second = [c for c in rig.api.records()["calls"] if c["to_number"] == voicemail][1]
    assert second["agent_id"] == "short"  # the voicemail step's agent, through the store


async def test_a_step_s_call_is_dialed_only_inside_its_window(rig: Rig) -> None:
    """A lead a step sent to the evening window that reaches its dial outside it (here: at
    14:30 in New York, its plan already on the lead) is given back unsent, its attempt
    refunded, and dialed when the window opens."""
    (number,) = numbers(1)
    rig.api.default_ending = Ending(seconds=10.0)
    extra = {"windows": {"evening": "17:00-19:30"}}
    campaign = rig.campaign(1, max_attempts=1, extra=extra)
    (lead,) = [lead for lead in rig.store.leads.values() if lead.campaign_id == campaign]
    lead.next_plan = {"window": "evening", "agent_id": "agent_evening"}

    assert (await rig.run(campaign)).outcome is RunOutcome.FINISHED

    assert rig.lead_states(campaign) == {number: ("completed", 1)}  # the early claim refunded
    assert len(rig.events("outside_step_window")) == 1
    (call,) = rig.api.records()["calls"]
    assert call["agent_id"] == "agent_evening"
    # the run began at 14:30 in New York: the call waited for 17:00, two and a half hours
    assert call["created"] >= 2.5 * 3600
