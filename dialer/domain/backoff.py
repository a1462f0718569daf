"""How long to wait before reading a failing Retell endpoint again. Pure.

While an endpoint family (get-call, list-calls, …) answers 5xx or 429, times out or cannot be
connected to, every read of it in the process waits its turn: the n-th failure in a row spaces
the next read `backoff_delay(n)` after it — exponential from READ_BACKOFF_FIRST, capped at
READ_BACKOFF_MAX, with up to JITTER_SHARE taken off at random so that processes that failed
together do not ask together again. The first good answer ends it (failures back to 0).
"""

from __future__ import annotations

READ_BACKOFF_FIRST = 0.1  # seconds after the first failure
# The most a read waits: an outage is read at most 1/(0.75 * 0.5), about 2.7, times a second per
# endpoint, and its end is noticed within half a second.
READ_BACKOFF_MAX = 0.5
JITTER_SHARE = 0.25  # up to this share of a delay is taken off at random
# Failures in a row before the process says once that it is backing off (one read failing, its
# own retries included, is not an outage yet).
ANNOUNCE_AFTER = 3


def is_read_fault(status: int | None) -> bool:
    """Whether a read's answer (its status; None: none at all — refused, timed out, dropped)
    says the endpoint is failing: no answer, a 5xx or a 429. Anything else is a good answer,
    a 4xx too: Retell answered."""
    return status is None or status == 429 or status >= 500


def backoff_delay(
    failures: int,
    draw: float,
    *,
    first: float = READ_BACKOFF_FIRST,
    cap: float = READ_BACKOFF_MAX,
    jitter: float = JITTER_SHARE,
) -> float:
    """Seconds before the next read of an endpoint that failed `failures` times in a row (0: no
    wait). `draw` is the random part, in [0, 1) (the caller passes `random.random()`): it takes
    up to `jitter` of the delay off."""
    if first <= 0 or cap < first or not 0 <= jitter <= 1:
        raise ValueError(f"bad backoff: first={first}, cap={cap}, jitter={jitter}")
    if failures <= 0:
        return 0.0
    ceiling = min(cap, first * 2.0 ** min(failures - 1, 64))
    return ceiling * (1.0 - jitter * min(max(draw, 0.0), 1.0))


def most_reads_per_second(cap: float = READ_BACKOFF_MAX, jitter: float = JITTER_SHARE) -> float:
    """The most reads per second one endpoint family gets from a process during an outage."""
    return 1.0 / (cap * (1.0 - jitter))
