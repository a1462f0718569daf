"""A running campaign follows `dialer load`: a change to its stored settings between two claims
is used by the next claim and by the next call-end decision (on the fakes, virtual time)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from dialer.dialing.options import RunOutcome
from dialer.inputs.campaign_file import read_campaign_file

from ..fakes import Ending
from ..helpers import numbers, write_campaign
from .harness import VIRTUAL_LIMIT, Rig, peak_live

pytestmark = pytest.mark.anyio


def _steps(reason: str) -> dict[str, Any]:
    return {"steps": [{"when": {"reason": "user_hangup"}, "then": {"skip": reason}}]}


async def test_a_reload_is_used_by_the_next_claim_and_the_next_call_end(rig: Rig) -> None:
    rig.api.default_ending = Ending(seconds=10.0)
    campaign = rig.campaign(12, cps=1, cap=1, max_attempts=1, extra=_steps("ruleA"))
    # what `dialer load` of the same file, with another step and a higher cap, stores
    (rig.tmp_path / "edited").mkdir()
    edited = write_campaign(
        rig.tmp_path / "edited",
        numbers(12),
        name="fast",
        cps=1,
        cap=4,
        max_attempts=1,
        extra=_steps("ruleB"),
    )
    config = read_campaign_file(edited).campaign.model_dump(mode="json", exclude={"leads"})
    runner = await rig.runner(campaign)
    changed_at = 0.0

    async def reload_later() -> None:
        nonlocal changed_at
        await anyio.sleep(35.0)
        changed_at = anyio.current_time()
        rig.store.campaigns[campaign].config = config

    with anyio.fail_after(VIRTUAL_LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(reload_later)
            result = await runner.run()

    assert result.outcome is RunOutcome.FINISHED
    calls = rig.api.records()["calls"]
    ended_before = {c["to_number"] for c in calls if c["terminal_at"] < changed_at}
    reasons = {
        lead.to_number: lead.skip_reason
        for lead in rig.store.leads.values()
        if lead.campaign_id == campaign
    }
    assert 1 <= len(ended_before) < 12
    for number, reason in reasons.items():  # the decision at each call's end: the settings then
        assert reason == ("ruleA" if number in ended_before else "ruleB"), number
    assert peak_live({"calls": [c for c in calls if c["created"] < changed_at]}) == 1
    assert peak_live({"calls": [c for c in calls if c["created"] >= changed_at]}) > 1
    (reloaded,) = rig.events("campaign_settings_reloaded")
    assert reloaded["changed"] == ["pacing", "steps"]
    assert runner.campaign.pacing.max_concurrent_calls == 4
