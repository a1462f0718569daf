"""Fault injection: what a test asks the simulator to get wrong, and how a reply is spoiled."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from dialer.simulator.wire import Reply, error_reply


@dataclass
class Faults:
    """Fault injection, each a probability per request (0..1) unless said otherwise."""

    create_5xx: float = 0.0  # 500 before anything is made: no call exists
    create_ambiguous: float = 0.0  # the call is made, then the answer is lost (drop or 500)
    read_5xx: float = 0.0  # get-call / list-calls answer 500
    read_drop: float = 0.0  # get-call / list-calls connection dropped
    read_malformed: float = 0.0  # get-call / list-calls answer 200 with a body of the wrong shape
    list_down: bool = False  # every /v3/list-calls answers 503 (get-call still works)
    create_no_id: float = 0.0  # the call is made; the 2xx answer carries no call_id
    slow: float = 0.0  # any request answered after `slow_seconds`
    slow_seconds: float = 2.0
    # (start, end) in real seconds since the simulator started: every create is answered 503
    # (no call made) in that window — an outage of the create endpoint alone.
    create_outage: tuple[float, float] | None = None
    # (start, end) likewise: every endpoint answers 503 (a create makes no call) — Retell down.
    outage: tuple[float, float] | None = None
    burst_429_every: float = 0.0  # every N real seconds, creates get 429 for `burst_429_seconds`
    burst_429_seconds: float = 1.0
    # every create is refused 400 with this message, whatever its lead (a broken from-number
    # or agent refuses every lead alike)
    create_refused: str | None = None


def read_fault(faults: Faults, rng: random.Random) -> Reply | None:
    """A read's fault, if this one gets one: a 500, or a dropped connection."""
    roll = rng.random()
    if roll < faults.read_5xx:
        return error_reply(500, "Internal server error")
    if roll < faults.read_5xx + faults.read_drop:
        return Reply(0, None, drop=True)
    return None


def malformed(faults: Faults, rng: random.Random, reply: Reply) -> Reply:
    """With `read_malformed`, a 200 answer whose body is not the API's shape: an HTML
    page, truncated JSON, not an object, a call without its status or with one this
    version of the API does not have."""
    if reply.status != 200 or rng.random() >= faults.read_malformed:
        return reply
    good = json.dumps(reply.body).encode()
    kind = rng.randrange(5)
    if kind == 0:
        return Reply(200, None, raw=b"<html><body>502 Bad Gateway</body></html>")
    if kind == 1:
        return Reply(200, None, raw=good[: max(1, len(good) // 2)])
    if kind == 2:
        return Reply(200, [reply.body])
    call = reply.body if "call_id" in reply.body else {"call_id": "call_x"}
    if kind == 3:
        return Reply(200, {k: v for k, v in call.items() if k != "call_status"})
    return Reply(200, {**call, "call_status": "transferring_to_mars"})


def in_429_burst(faults: Faults, since_start: float) -> bool:
    """Whether creates get 429 now (`since_start`: real seconds since the simulator started)."""
    every = faults.burst_429_every
    return every > 0 and (since_start % every) < faults.burst_429_seconds


def in_outage(faults: Faults, since_start: float, *, create: bool) -> bool:
    """Whether a request answers 503 now: in the total outage's window, or (`create`) in the
    create outage's (`since_start`: real seconds since the simulator started)."""
    windows = [faults.outage, faults.create_outage if create else None]
    return any(w is not None and w[0] <= since_start < w[1] for w in windows)
