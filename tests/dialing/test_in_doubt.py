"""Creates whose answer proves nothing (a call may exist): the attempt is held in doubt and
reconciled — its call found by the attempt id in the metadata, or the create resent with the
same idempotency key — before the lead may be dialed again. Nobody is called twice."""

from __future__ import annotations

import pytest

from dialer.dialing.options import RunOutcome

from ..fakes import CreateFault
from ..helpers import check_invariants, numbers
from .harness import Rig

pytestmark = pytest.mark.anyio


def _creates_by_number(records: dict[str, object]) -> dict[str, list[tuple[str | None, str]]]:
    found: dict[str, list[tuple[str | None, str]]] = {}
    for create in records["creates"]:  # type: ignore[attr-defined]
        found.setdefault(create["to_number"], []).append(
            (create["idempotency_key"], create["answer"])
        )
    return found


async def test_an_ambiguous_create_is_found_by_metadata_or_resent_with_its_key(rig: Rig) -> None:
    nums = numbers(200)
    lost, failed = nums[:30], nums[30:60]
    for number in lost:  # the call was made; the answer never came
        rig.api.create_faults[number] = [CreateFault.LOST]
    for number in failed:  # 500 before anything was made: no call exists
        rig.api.create_faults[number] = [CreateFault.SERVER_ERROR]
    campaign = rig.campaign(200, cps=20, cap=25, max_attempts=1)

    result = await rig.run(campaign)

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    calls = check_invariants(records, max_attempts=1, cap=25, cps=20, jitter=0.01)
    assert len(calls) == 200  # one call per number: nobody called twice, nobody lost
    creates = _creates_by_number(records)
    for number in lost:  # found by its attempt id: not sent again
        ((_, answer),) = creates[number]
        assert answer == "dropped-after-create"
    for number in failed:  # listed as absent: resent with the same key
        (first_key, first), (second_key, second) = creates[number]
        assert (first, second) == ("500-no-call", "201")
        assert first_key == second_key is not None
    assert len(rig.events("reconciled")) == 30
    assert len(rig.events("reconciled_by_resend")) == 30
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}


async def test_a_call_list_calls_does_not_show_yet_is_replayed_not_dialed_again(rig: Rig) -> None:
    """list-calls lags the creates: a reconciliation finds nothing for a call that exists, and
    the resend with the same key is answered with that call (Retell's idempotency)."""
    rig.api.list_lag = 5.0
    nums = numbers(100)
    for number in nums[:40]:
        rig.api.create_faults[number] = [CreateFault.LOST]
    campaign = rig.campaign(100, cps=20, cap=20, max_attempts=1)

    result = await rig.run(campaign)

    assert result.outcome is RunOutcome.FINISHED
    records = rig.api.records()
    calls = check_invariants(records, max_attempts=1, cap=20)
    assert len(calls) == 100 and set(calls.values()) == {1}
    creates = _creates_by_number(records)
    for number in nums[:40]:
        assert [answer for _, answer in creates[number]] == [
            "dropped-after-create",
            "idempotent-replay",
        ]
    assert set(rig.lead_states(campaign).values()) == {("completed", 1)}
