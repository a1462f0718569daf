"""Helpers for end-to-end tests: campaigns on disk, and the invariants read from the simulator."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import yaml
from sqlalchemy import select

from dialer.dialing.options import RunOptions, RunResult
from dialer.dialing.runner import CampaignRunner
from dialer.http.binding import bound_port, listening_socket
from dialer.http.server import Limits, serve
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.retell import RetellClient
from dialer.retell.settings import ApiKey
from dialer.simulator import SimulatedRetell, SimulatorServer
from dialer.store import Store
from dialer.store.schema import leads

if TYPE_CHECKING:
    from starlette.types import ASGIApp


def write_campaign(
    tmp_path: Path,
    numbers: list[str],
    *,
    name: str = "test",
    cps: float = 50,
    cap: int = 10,
    max_attempts: int = 3,
    backoff: str = "200ms",
    retry_on: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    leads = tmp_path / f"{name}-leads.csv"
    leads.write_text(
        "to_number,first_name\n" + "".join(f"{n},Lead{i}\n" for i, n in enumerate(numbers))
    )
    config: dict[str, Any] = {
        "name": name,
        "from_number": "+14155550100",
        "leads": leads.name,
        "pacing": {"calls_per_second": cps, "max_concurrent_calls": cap},
        "retry": {
            "max_attempts": max_attempts,
            "backoff": [backoff],
            "callback_delay": backoff,
            "retry_on": retry_on or ["dial_no_answer", "dial_busy", "voicemail_reached", "error"],
        },
        **(extra or {}),
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def lead_rows(store: Store) -> list[dict[str, object]]:
    """Every lead row of the store, in id order."""
    async with store.engine.connect() as conn:
        result = await conn.execute(select(leads).order_by(leads.c.id))
        return [dict(r._mapping) for r in result]


def numbers(count: int, start: int = 0) -> list[str]:
    """Distinct valid US numbers."""
    return [f"+1212{2_000_000 + start + i:07d}" for i in range(count)]


def fast_options(worker: str = "test-worker", **overrides: Any) -> RunOptions:
    options = RunOptions(
        worker_id=worker,
        lease_seconds=5.0,
        poll_min_seconds=0.05,
        poll_max_seconds=0.2,
        grace_seconds=5.0,
        analysis_pass_seconds=0.2,
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


async def run_in_process(
    store: Store,
    engine: SimulatedRetell,
    campaign_path: Path,
    options: RunOptions | None = None,
    api_key: str = "sim-key",
    limit_seconds: float = 120,
    reads_per_second: float | None = None,
) -> RunResult:
    """Load the campaign and run it to the end against `engine` served on loopback."""
    loaded = read_campaign_file(campaign_path)
    result = await import_campaign(store, loaded)
    row = await store.campaign(result.campaign_id)
    assert row is not None
    async with (
        SimulatorServer(engine) as server,
        RetellClient(
            ApiKey(api_key),
            server.url,
            create_timeout=2.0,
            read_timeout=2.0,
            reads_per_second=reads_per_second,
        ) as client,
    ):
        runner = CampaignRunner(store, client, row, options or fast_options())
        with anyio.fail_after(limit_seconds):
            return await runner.run()


@asynccontextmanager
async def running(
    store: Store, engine: SimulatedRetell, campaign_path: Path, options: RunOptions | None = None
) -> AsyncIterator[CampaignRunner]:
    """Load the campaign and run it against `engine` while the block runs; stop it after."""
    loaded = read_campaign_file(campaign_path)
    row = await store.campaign((await import_campaign(store, loaded)).campaign_id)
    assert row is not None
    async with (
        SimulatorServer(engine) as server,
        RetellClient(ApiKey("sim-key"), server.url) as client,
        anyio.create_task_group() as group,
    ):
        runner = CampaignRunner(store, client, row, options or fast_options())
        group.start_soon(runner.run)
        try:
            yield runner
        finally:
            runner.stop()


def check_invariants(
    records: dict[str, Any],
    *,
    max_attempts: int,
    cap: int | None = None,
    cps: float | None = None,
    jitter: float = 0.05,
) -> dict[str, int]:
    """Assert from the simulator's own records: no number called beyond the policy, never two
    live calls to one number, the concurrency cap and the dial rate held. Returns calls/number."""
    calls = records["calls"]
    assert calls, "no call was made: the invariants would hold vacuously"
    per_number: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for call in calls:
        per_number[call["to_number"]].append((call["created"], call["terminal_at"]))
    counts = {number: len(spans) for number, spans in per_number.items()}
    over = {n: c for n, c in counts.items() if c > max_attempts}
    assert not over, f"numbers dialed beyond max_attempts={max_attempts}: {over}"
    for number, spans in per_number.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"{number} dialed while its previous call was live"
    if cap is not None:
        peak = peak_live(records)
        assert peak <= cap, f"{peak} calls were live at once; the cap is {cap}"
    if cps is not None:
        starts = sorted(c["created"] for c in calls)
        window = 1.0 - jitter  # request arrival carries loopback/scheduling jitter
        j = 0
        for i, t in enumerate(starts):
            while starts[j] < t - window:
                j += 1
            assert i - j + 1 <= max(1, int(cps)), (
                f"{i - j + 1} calls started within {window:.2f}s; the ceiling is {cps}/s"
            )
    return counts


def peak_live(records: dict[str, Any]) -> int:
    """The most calls live at once, from the simulator's records."""
    calls = records["calls"]
    events = sorted(
        [(c["created"], 1) for c in calls] + [(c["terminal_at"], -1) for c in calls],
        key=lambda e: (e[0], e[1]),
    )
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak


def answers(records: dict[str, Any]) -> Counter[str]:
    return Counter(r["answer"] for r in records["creates"])


@asynccontextmanager
async def serving(app: ASGIApp, limits: Limits | None = None) -> AsyncIterator[int]:
    """`app` served on a free loopback port (yielded) the way dialer serves its listeners."""
    sock = listening_socket("127.0.0.1", 0)
    port = bound_port(sock)
    async with anyio.create_task_group() as group:
        group.start_soon(serve, app, sock, limits or Limits(max_connections=32))
        yield port
        group.cancel_scope.cancel()
