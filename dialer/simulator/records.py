"""What the simulated account answers about itself: its concurrency (get-concurrency), and
the records tests and benchmarks read (`/_sim/records`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialer.simulator.simulated import SimulatedRetell


def concurrency_of(engine: SimulatedRetell) -> dict[str, Any]:
    """get-concurrency's answer."""
    return {
        "concurrency_limit": engine.concurrency_limit,
        "current_concurrency": engine.alive_count(),
        "base_concurrency": engine.concurrency_limit,
        "purchased_concurrency": 0,
        "concurrency_purchase_limit": 100,
        "remaining_purchase_limit": 100,
        "concurrency_burst_enabled": False,
        "concurrency_burst_limit": engine.concurrency_limit,
        "reserved_inbound_concurrency": 0,
    }


def records_of(engine: SimulatedRetell) -> dict[str, Any]:
    """Every call and every create request, with real (monotonic) times."""
    return {
        "calls": [
            {
                "call_id": c.call_id,
                "to_number": c.to_number,
                "from_number": c.from_number,
                "agent_override": c.agent_override,
                "agent_id": c.agent_id,
                "agent_version": c.agent_version,
                "variables": c.variables,
                "created": c.created,
                "terminal_at": c.terminal_at,
                "reason": c.outcome.reason,
                "metadata": c.metadata,
            }
            for c in engine.calls.values()
        ],
        "creates": [asdict(r) for r in engine.creates],  # at, to_number, key, call, answer
        "webhooks": list(engine.webhooks),
        "requests": dict(engine.requests),
        "read_times": [t for t, e in engine.arrivals if e in ("get-call", "list-calls")],
        "arrivals": [list(a) for a in engine.arrivals],
        "end_ask_times": list(engine.listing.end_ask_times),  # list-calls asking which calls ended
    }
