"""The ports of the dialing package: exactly what its runner, follower, calling gate and worker
use of the store and of the call API, as Protocols.

`dialer.store.Store` and `dialer.retell.RetellClient` satisfy them (mypy checks it where
`dialer.app` wires them together); the in-memory store and call API in `tests/fakes/` satisfy
them too, so the runner can be tested in milliseconds on a virtual clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from dialer.domain.call_end import HealthRules
from dialer.domain.calling_rules import Place, PlaceFilter
from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.lifecycle import Transition
from dialer.domain.policy import Decision
from dialer.retell import Concurrency, CreateCallRequest, CreateOutcome, PhoneCall
from dialer.store import Attempt, CallEndRecord, CampaignRow, Claim, ClaimRequest


class StoreAvailability(Protocol):
    """How the store rides out the database going away, as far as a runner takes part."""

    def when_back(self, callback: Callable[[], Awaitable[object]]) -> AbstractContextManager[None]:
        """While the block runs, `callback` runs first thing when the store answers again."""
        ...


class PlaceCounts(Protocol):
    """What the calling gate reads: the places a campaign's leads are in, and how many wait
    in each."""

    async def known_places(self, campaign_id: int) -> list[Place] | None: ...

    async def waiting_by_place(self, campaign_id: int) -> dict[Place, int]: ...


class FollowingStore(Protocol):
    """Following a campaign's calls once per fleet (dialer.domain.following): the following
    lease, the campaign's placed calls, and the ends its holder saw."""

    @property
    def is_shared(self) -> bool:
        """Whether several processes may serve one campaign from this store."""
        ...

    async def hold_following(
        self, campaign_id: int, worker_id: str, lease_seconds: float
    ) -> bool: ...

    async def release_following(self, campaign_id: int, worker_id: str) -> None: ...

    async def placed_calls(self, campaign_id: int, other_than: str) -> dict[str, str]: ...

    async def record_seen_ends(
        self, campaign_id: int, ends: Sequence[tuple[str, dict[str, Any]]]
    ) -> int: ...

    async def seen_ends(
        self, campaign_id: int, worker_id: str
    ) -> list[tuple[str, dict[str, Any]]]: ...

    async def record_seen_call(self, call_id: str, call: dict[str, Any]) -> bool: ...


class DialingStore(PlaceCounts, FollowingStore, Protocol):
    """What a campaign's runner uses of the store: claims, the fenced writes that settle an
    attempt, leases, and the few reads that decide when a run is over."""

    @property
    def availability(self) -> StoreAvailability: ...

    async def now(self) -> datetime:
        """The store's clock (every worker of a store agrees on it)."""
        ...

    async def campaign(self, name_or_id: str | int) -> CampaignRow | None: ...

    async def has_unfinished_leads(self, campaign_id: int) -> bool: ...

    async def live_attempts(self, campaign_id: int) -> int: ...

    async def next_due_at(
        self, campaign_id: int, places: PlaceFilter | None = None
    ) -> datetime | None: ...

    async def claim(
        self,
        campaign_id: int,
        worker_id: str,
        request: ClaimRequest,
        *,
        places: PlaceFilter | None = None,
        account_cap: int | None = None,
    ) -> Claim: ...

    async def reserve_dial_slot(
        self, campaign_id: int, pacing: Pacing, speed: float = 1.0
    ) -> float: ...

    async def hold(self, campaign_id: int, seconds: float) -> None: ...

    async def change_status(self, campaign_id: int, transition: Transition) -> bool: ...

    async def record_placed(
        self,
        attempt: Attempt,
        worker_id: str,
        call_id: str,
        call_status: str,
        lease_seconds: float,
    ) -> bool: ...

    async def record_in_doubt(self, attempt: Attempt, worker_id: str, reason: str) -> bool: ...

    async def record_not_placed(
        self,
        attempt: Attempt,
        worker_id: str,
        decision: Decision,
        *,
        error: str | None,
        sent: bool = True,
    ) -> bool: ...

    async def record_call_end(
        self,
        attempt: Attempt,
        worker_id: str,
        decision: Decision,
        call: CallEnd,
        health: HealthRules | None = None,
    ) -> CallEndRecord: ...

    async def record_later_details(
        self,
        call_id: str,
        analysis: dict[str, Any] | None,
        cost_cents: float | None = None,
        recording_url: str | None = None,
    ) -> None: ...

    async def renew_leases(
        self, worker_id: str, attempt_ids: Collection[str], lease_seconds: float
    ) -> int: ...

    async def release_leases(self, worker_id: str) -> None: ...

    async def take_over_expired(
        self, campaign_id: int, worker_id: str, lease_seconds: float
    ) -> list[Attempt]: ...

    async def heartbeat(
        self, worker_id: str, kind: str, campaign_id: int | None = None
    ) -> None: ...

    async def process_gone(self, worker_id: str) -> None: ...


class ServingStore(DialingStore, Protocol):
    """What a worker uses besides its runners' share: which campaigns to serve, their end,
    and the wake-ups other processes send when they free a slot or see calls end."""

    async def campaigns_to_serve(self) -> list[CampaignRow]: ...

    async def finish_if_done(self, campaign_id: int) -> bool: ...

    async def in_doubt_count(self, campaign_id: int) -> int: ...

    async def watch_freed_slots(
        self, on_freed: Callable[[int], None], on_seen: Callable[[int], None] | None = None
    ) -> None: ...


class CallApi(Protocol):
    base_url: str  # where the API is (said when it has no create-phone-call)

    """What the runner and the follower use of Retell's call API."""

    @property
    def unreachable(self) -> str | None:
        """Why no connection to the API can be made now; None while it answers."""
        ...

    async def until_reachable(self, probe_every: float) -> None: ...

    async def answered_again(self, endpoint: str, seconds: float) -> bool:
        """Wait `seconds`, or less: until `endpoint` answers again after a fault (then True)."""
        ...

    async def get_concurrency(self) -> Concurrency: ...

    async def create_phone_call(self, request: CreateCallRequest) -> CreateOutcome:
        """Once; never raises for HTTP or transport faults (the outcome says what it proves)."""
        ...

    async def get_call(self, call_id: str) -> PhoneCall: ...

    async def calls_by_id(
        self, call_ids: Sequence[str], statuses: Sequence[str] | None = None
    ) -> list[PhoneCall]: ...

    async def find_calls_by_metadata(self, key: str, value: str) -> list[PhoneCall]: ...
