"""A call followed to its end: what a follower knows of it, and what it hands on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

from dialer.domain.calls import CallStatus
from dialer.retell import MAX_PAGE, PhoneCall
from dialer.store import Attempt


@dataclass
class FollowedCall:
    """A placed call this process follows."""

    attempt: Attempt
    call_id: str
    followed_since: float  # anyio.current_time(): virtual under a test clock
    next_read: float  # its next get-call (the fallback, when following in batches)
    last_read: float  # its state was last known then (a read, or a list that did not list it)
    reading: bool = False  # a read (or a webhook's or a list's settling) is under way
    failures: int = 0
    warned_at: float = 0.0


# Called once per call with its terminal state and what saw it ("list", "poll", "webhook").
EndCallback = Callable[[FollowedCall, PhoneCall, str], Awaitable[None]]
# Called with a call that ended earlier, now carrying its analysis.
AnalysisCallback = Callable[[PhoneCall], Awaitable[None]]


def details_complete(call: PhoneCall, *, with_recording: bool) -> bool:
    """Whether Retell has given all it adds after a call's end: its cost (every call, a call
    that never connected too: it costs nothing, or little), and for a call that connected its
    analysis (and its recording, which list items lack)."""
    if call.cost_cents is None:
        return False
    if call.call_status != CallStatus.ENDED:
        return True
    return call.call_analysis is not None and (bool(call.recording_url) or not with_recording)


def pages(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), MAX_PAGE):
        yield ids[start : start + MAX_PAGE]
