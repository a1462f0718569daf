"""Quiet while Retell is down: during a total outage (every endpoint answers 503) a run reads
Retell at most half as often as before it, and dials again as soon as it is back. Real time, the
simulator over HTTP, the runner in-process; requests counted by the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import dialer.retell.read_backoff as read_backoff_module
from dialer.dialing.options import RunOptions
from dialer.dialing.runner import CampaignRunner
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.retell import RetellClient
from dialer.retell.settings import ApiKey
from dialer.simulator import Faults, SimulatedRetell, SimulatorServer
from dialer.store import Store

from ..helpers import check_invariants, numbers, write_campaign

pytestmark = pytest.mark.anyio

OUTAGE = (3.0, 13.0)  # real seconds after the run started: 10 s of 503s to everything
SETTLING = 3.0  # the outage's first seconds, while the backoff grows, are not measured
AFTER = 1.0  # how long the run goes on after it


def _rate(arrivals: list[list[Any]], start: float, end: float) -> float:
    """Requests a second the simulator received in [start, end) (seconds since it started)."""
    return sum(1 for at, _endpoint in arrivals if start <= at < end) / (end - start)


class _Events:
    def __init__(self) -> None:
        self.names: list[str] = []

    def warning(self, event: str, **_: Any) -> None:
        self.names.append(event)


async def test_a_total_outage_is_read_at_most_half_as_often_and_ends_in_a_dial(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _Events()
    monkeypatch.setattr(read_backoff_module, "log", events)
    path = write_campaign(tmp_path, numbers(400), cps=5, cap=20, max_attempts=1)
    row = await store.campaign((await import_campaign(store, read_campaign_file(path))).campaign_id)
    assert row is not None
    # the defaults of `dialer run` at real time: a list-calls every 250 ms, 10 reads/s at most
    options = RunOptions(worker_id="down", lease_seconds=10.0, grace_seconds=1.0)
    engine = SimulatedRetell(
        speed=1, seed=24, concurrency_limit=100, call_seconds=(1.5, 3.0), faults=Faults()
    )
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
        anyio.create_task_group() as group,
    ):
        runner = CampaignRunner(store, client, row, options)
        group.start_soon(runner.run)
        start = engine._start  # the simulator's zero: its faults' windows count from it
        # the window counts from now, so that the run is under way before it begins
        now = engine.clock() - start
        engine.faults.outage = (now + OUTAGE[0], now + OUTAGE[1])
        await anyio.sleep(OUTAGE[1] + AFTER)
        runner.stop()
    down_from, down_to = engine.faults.outage
    records = engine.records()
    arrivals = [[at - start, endpoint] for at, endpoint in records["arrivals"]]
    before = _rate(arrivals, down_from - 2.5, down_from)  # the run at full speed
    during = _rate(arrivals, down_from + SETTLING, down_to)
    assert before >= 6, before  # dialing and following at full speed: the comparison means much
    assert during <= before / 2, (before, during)
    # nothing was made in the window; the first create after it is within 1 s of its end
    creates = [(r["at"] - start, r["answer"]) for r in records["creates"]]
    assert all(a == "503-outage" for at, a in creates if down_from <= at < down_to)
    assert any(a == "503-outage" for _, a in creates)  # creates met the outage
    after = sorted(at for at, answer in creates if at >= down_to and answer != "503-outage")
    print(f"requests/s: {before:.1f} before the outage, {during:.1f} during it; ", end="")
    print(f"first create {after[0] - down_to if after else float('inf'):.2f} s after it")
    assert after and after[0] < down_to + 1.0, after[:3]
    # Nothing dialed twice or over the cap. The rate, within a looser window than at --speed: at
    # real time on a loaded machine one send can be late by a tenth of a second behind the
    # next one on time (the pacing itself is tested at the store).
    check_invariants(records, max_attempts=1, cap=20, cps=5, jitter=0.25)
    # one line when reads start backing off, one when Retell answers them again
    assert events.names == ["retell_reads_backing_off", "retell_reads_answered"], events.names
