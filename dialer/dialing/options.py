"""How a runner runs (options), what it reports while it runs (stats), and how it ended."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import anyio

from dialer.dialing.clock import Clock


class RunOutcome(StrEnum):
    FINISHED = "finished"  # every lead is terminal
    STOPPED = "stopped"  # a signal asked us to stop; resumable
    FATAL = "fatal"  # the API refused the key or the account
    MISCONFIGURED = "misconfigured"  # no create-phone-call at RETELL_BASE_URL (a 404)
    PAUSED = "paused"  # the campaign was paused (by a person or an account outcome)
    CANCELLED = "cancelled"


class FollowMode(StrEnum):
    """How placed calls are followed (dialer.dialing.follower)."""

    LIST = "list"  # one list-calls per tick for every call followed; get-call the fallback
    GET_CALL = "get-call"  # one get-call per live call (the older way)


@dataclass(frozen=True)
class RunResult:
    outcome: RunOutcome
    message: str = ""
    campaign: str = ""  # its name, for what a person is told to type


@dataclass
class RunOptions:
    worker_id: str
    lease_seconds: float = 30.0
    # How many times faster than real time the Retell we dial runs (a simulator's --speed):
    # pacing, backoffs and polling are compressed by it. Calling hours never are.
    speed: float = 1.0
    claim_batch: int = 50
    # How placed calls are followed: "list" (one list-calls per tick for every call followed,
    # with a slow get-call per call as the fallback) or "get-call" (a get-call per call).
    follow: FollowMode = FollowMode.LIST
    follow_tick_seconds: float = 0.25
    fallback_seconds: float = 20.0  # batched: each call's own get-call, at most this often
    # Between two passes over ended calls still without their analysis, cost or recording (one
    # list-calls a page of them): Retell adds these tens of seconds after a call ends.
    analysis_pass_seconds: float = 10.0
    # The process's read budget, in campaign time (the client enforces it, times the speed).
    api_reads_per_second: float = 10.0
    poll_concurrency: int = 32
    poll_min_seconds: float = 1.0  # per call: the shortest and longest intervals between reads
    poll_max_seconds: float = 5.0
    grace_seconds: float = 10.0
    exit_when_done: bool = True
    # `dialer run`: a paused campaign is waited out (its calls still followed) and dialed again
    # once resumed; a worker's runner ends instead (the worker picks the campaign up again).
    wait_while_paused: bool = False
    # `dialer run`: this process says in the store that it serves its campaign (a heartbeat)
    heartbeat: bool = False
    clock: Clock = field(default_factory=Clock)  # the wall clock calling hours are judged by

    def scaled(self, seconds: float) -> float:
        """Real seconds for `seconds` of campaign time (never below 50 ms, so an accelerated
        simulation does not turn polling into a busy loop)."""
        return max(0.05, seconds / self.speed)


@dataclass
class RunStats:
    """What the progress display reads; updated by the runner only."""

    placed: int = 0
    ended: int = 0
    in_doubt: int = 0
    not_placed: int = 0
    waiting_for_window: int = 0  # due leads whose calling window is closed now
    next_window: datetime | None = None  # when the next of those windows opens
    awaiting_details: int = 0  # ended calls whose analysis, cost or recording is still to come
    paused: str | None = None  # why the campaign is paused, while `dialer run` waits it out
    dial_times: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def dial_rate(self, window: float = 10.0) -> float:
        now = anyio.current_time()
        recent = [t for t in self.dial_times if now - t <= window]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], 1e-6)
        return len(recent) / span
