"""Calls' ends as the simulator's outcome model makes them, without a server or a clock that
runs: each call is created in-process (per agent id, so a profile can plant a difference
between variants) and read back once ended and analysed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dialer.domain.calls import CallEnd
from dialer.retell.models import PhoneCall
from dialer.simulator import AgentProfiles, SimulatedRetell

KEY = "sim-key"


def planted_engine(profiles: dict[str, Any], seed: int) -> tuple[SimulatedRetell, list[float]]:
    """A simulator with these profiles on a clock the caller moves (`clock[0]`)."""
    clock = [0.0]
    engine = SimulatedRetell(
        api_key=KEY,
        seed=seed,
        clock=lambda: clock[0],
        concurrency_limit=1_000_000,
        profiles=AgentProfiles.from_config(profiles),
    )
    return engine, clock


def call_ends(
    engine: SimulatedRetell, clock: list[float], calls: Sequence[tuple[str, str]]
) -> list[CallEnd]:
    """Each (to_number, agent_id) called once; their ends, analysis and cost included."""
    headers = {"authorization": f"Bearer {KEY}"}
    ids = []
    for to_number, agent_id in calls:
        body = {
            "from_number": "+14155550100",
            "to_number": to_number,
            "override_agent_id": agent_id,
        }
        reply = engine.handle("POST", "/v2/create-phone-call", headers, json.dumps(body).encode())
        assert reply.status == 201, reply.body
        ids.append(reply.body["call_id"])
    clock[0] += 1e6  # every call ended, and analysed, long ago
    return [PhoneCall.model_validate(engine.call_json(engine.calls[i])).call_end() for i in ids]


def attempt_row(end: CallEnd) -> dict[str, Any]:
    """The store row of an ended attempt, as the experiment's funnel reads it."""
    return {
        "state": "ended",
        "call_status": end.call_status,
        "duration_ms": end.duration_ms,
        "analysis": end.analysis,
        "cost_cents": end.cost_cents,
    }
