"""A store, a call API and a wall clock on one virtual time, and the runs the tests make."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from dialer.dialing.options import RunOptions, RunResult
from dialer.dialing.runner import CampaignRunner
from dialer.inputs.campaign_file import read_campaign_file

from ..fakes import MemoryCallApi, MemoryStore, VirtualTime, VirtualWallClock
from ..helpers import numbers, write_campaign

# Longer than any test's campaign needs, in virtual seconds: a runner that never ends fails
# the test at once (the clock jumps to this deadline) instead of hanging it.
VIRTUAL_LIMIT = 6 * 3600.0


class Rig:
    def __init__(
        self, tmp_path: Path, logs: list[MutableMapping[str, Any]], time: VirtualTime | None = None
    ) -> None:
        self.tmp_path = tmp_path
        self.logs = logs  # every log event of the test (structlog.testing.capture_logs)
        self.time = time or VirtualTime()
        self.store = MemoryStore(self.time)
        self.api = MemoryCallApi(self.time)

    def campaign(self, count: int, *, name: str = "fast", **settings: Any) -> int:
        """A campaign of `count` distinct numbers (tests/helpers.write_campaign's settings)."""
        path = write_campaign(self.tmp_path, numbers(count), name=name, **settings)
        return self.store.load(read_campaign_file(path))

    def options(self, worker: str = "w1", **overrides: Any) -> RunOptions:
        return replace(
            RunOptions(worker_id=worker, clock=VirtualWallClock(time=self.time)), **overrides
        )

    async def runner(self, campaign_id: int, options: RunOptions | None = None) -> CampaignRunner:
        row = await self.store.campaign(campaign_id)
        assert row is not None
        return CampaignRunner(self.store, self.api, row, options or self.options())

    async def run(self, campaign_id: int, options: RunOptions | None = None) -> RunResult:
        """Run the campaign to its end."""
        runner = await self.runner(campaign_id, options)
        with anyio.fail_after(VIRTUAL_LIMIT):
            return await runner.run()

    def events(self, name: str) -> list[MutableMapping[str, Any]]:
        """The log events called `name`."""
        return [entry for entry in self.logs if entry["event"] == name]

    def lead_states(self, campaign_id: int) -> dict[str, tuple[str, int]]:
        """Each lead's (state, attempts), by its number."""
        return {
            lead.to_number: (lead.state.value, lead.attempts)
            for lead in self.store.leads.values()
            if lead.campaign_id == campaign_id
        }


def peak_live(records: dict[str, Any]) -> int:
    """The most calls live at once at the API (an end at the instant of a start frees first)."""
    events = sorted(
        [(c["created"], 1) for c in records["calls"]]
        + [(c["terminal_at"], -1) for c in records["calls"]]
    )
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak
