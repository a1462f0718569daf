"""Following a campaign's calls once per fleet: which process asks Retell about them.

Several processes (`dialer run`, `dialer worker`s) on one store dial one campaign. One of them at
a time holds the campaign's **following lease** (a row in the store: the holder and when its
lease expires) and asks Retell about every placed call of the campaign, whichever process placed
it; the others ask nothing and settle their own calls from what the holder saw. The store's
statement takes or renews the lease exactly when `may_hold` says so, in one atomic write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# How many follow ticks a following lease lasts: renewed every tick, so a holder that misses a
# few ticks (a slow store, a busy processor) keeps it; a holder that died is replaced once it
# runs out.
LEASE_TICKS = 12
LEASE_FLOOR_SECONDS = 2.0  # never shorter (real seconds), whatever the simulator's speed


def lease_period(tick_seconds: float) -> float:
    """Real seconds a following lease lasts, given the follower's tick in real seconds (3 s at
    the default 250 ms tick)."""
    return max(LEASE_FLOOR_SECONDS, LEASE_TICKS * tick_seconds)


def may_hold(holder: str | None, expires_at: datetime | None, me: str, now: datetime) -> bool:
    """Whether `me` may take (or keep) the following lease now: nobody holds it, `me` does, or
    its holder's lease ran out (a holder that died, or stopped and gave it back)."""
    if holder is None or holder == me:
        return True
    return expires_at is None or expires_at <= now


@dataclass(frozen=True)
class TickPlan:
    """What a process's follower does in one tick."""

    list_calls: bool  # ask Retell (list-calls) which of the followed calls ended
    fallback_reads: bool  # a slow get-call per call (when list-calls lags or fails)
    seen_in_store: bool  # settle this process's calls whose end another process saw


def plan_tick(*, shared: bool, holding: bool) -> TickPlan:
    """One process alone on its store (SQLite) follows its own calls as always. In a fleet
    (a shared store), only the lease's holder reads Retell — for the whole campaign — and every
    process settles its own calls from the ends the holder wrote to the store."""
    if not shared:
        return TickPlan(list_calls=True, fallback_reads=True, seen_in_store=False)
    return TickPlan(list_calls=holding, fallback_reads=holding, seen_in_store=True)


def foreign_calls(placed: dict[str, str], own: set[str]) -> dict[str, str]:
    """The campaign's placed calls (attempt id -> call id, as the store has them) that another
    process placed: the holder asks about them too, and writes down what it sees."""
    return {attempt: call for attempt, call in placed.items() if attempt not in own}
