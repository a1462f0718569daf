"""An in-memory call API implementing the dialing port (dialer.dialing.ports.CallApi).

Creates make calls that end after a virtual duration (`Ending`), with Retell's idempotency:
a resend with a key already used answers with the call that key made. Faults, per number in
order or at random: a create whose answer is lost after the call was made, a 5xx before
anything is made, a 429, a rejection; get-call and list-calls answering 5xx. Reads follow
Retell's shapes: list items come without the recording. `records()` has the simulator's
shape, so tests/helpers.check_invariants reads it as it reads the simulator's.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio
import anyio.lowlevel

from dialer.retell import (
    Ambiguous,
    Concurrency,
    CreateCallRequest,
    CreateOutcome,
    NotPlaced,
    PhoneCall,
    Placed,
    RetellStatusError,
)

from .clock import VirtualTime

IDEMPOTENCY_SECONDS = 3600.0
RING_SECONDS = 1.0  # a call is `registered` this long, then `ongoing` if it connects


@dataclass(frozen=True)
class Ending:
    """How a call ends: Retell's terminal status and disconnection reason, after `seconds`."""

    reason: str = "user_hangup"
    status: str = "ended"  # `ended` connected; `not_connected`, `error` did not
    seconds: float = 30.0
    # a connected call's custom analysis data, and how long after its end the analysis comes
    answers: dict[str, Any] | None = None
    analysis_after: float = 0.0

    @property
    def connected(self) -> bool:
        return self.status == "ended"


class CreateFault(StrEnum):
    LOST = "lost"  # the call is made, then the answer is lost (a dropped connection)
    SERVER_ERROR = "server_error"  # 500 before anything is made: no call exists
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After: 1
    REJECTED = "rejected"  # 422: this number cannot be called


@dataclass
class Faults:
    """Each a probability per request, drawn from the API's seeded generator."""

    lost: float = 0.0
    server_error: float = 0.0
    rate_limited: float = 0.0
    read_error: float = 0.0  # get-call and list-calls answer 500


@dataclass
class FakeCall:
    call_id: str
    request: CreateCallRequest
    ending: Ending
    created: float  # seconds on the virtual clock
    created_ms: int  # the call's start_timestamp

    @property
    def terminal_at(self) -> float:
        return self.created + self.ending.seconds

    def status_at(self, now: float) -> str:
        if now >= self.terminal_at:
            return self.ending.status
        if now - self.created < RING_SECONDS or not self.ending.connected:
            return "registered"
        return "ongoing"


@dataclass
class CreateRecord:
    at: float
    to_number: str
    idempotency_key: str | None
    call_id: str | None
    answer: str


@dataclass
class MemoryCallApi:
    """Retell's call API as the runner sees it, in memory."""

    time: VirtualTime = field(default_factory=VirtualTime)
    default_ending: Ending = field(default_factory=Ending)
    endings: dict[str, list[Ending]] = field(default_factory=dict)  # per number, in order
    create_faults: dict[str, list[CreateFault | None]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    concurrency_limit: int = 1000
    # list-calls shows a call only this long after it was made (Retell's lists lag its
    # creates): a reconciliation may find nothing for a call that exists
    list_lag: float = 0.0
    seed: int = 0
    base_url: str = "memory://retell"

    def __post_init__(self) -> None:
        self.calls: dict[str, FakeCall] = {}
        self.creates: list[CreateRecord] = []
        self.requests: dict[str, int] = {}
        self._by_key: dict[str, FakeCall] = {}
        self._rng = random.Random(self.seed)
        self._unreachable: str | None = None
        self._reachable_again: anyio.Event | None = None  # made inside the event loop

    # -- reachability --------------------------------------------------------------------------

    @property
    def unreachable(self) -> str | None:
        return self._unreachable

    def cut_off(self, cause: str = "connection refused") -> None:
        """No connection can be made (until `restore`)."""
        self._unreachable = cause

    def restore(self) -> None:
        self._unreachable = None
        if self._reachable_again is not None:
            self._reachable_again.set()
            self._reachable_again = None

    async def until_reachable(self, probe_every: float) -> None:
        while self._unreachable is not None:
            if self._reachable_again is None:
                self._reachable_again = anyio.Event()
            with anyio.move_on_after(probe_every):
                await self._reachable_again.wait()

    async def answered_again(self, endpoint: str, seconds: float) -> bool:
        await anyio.sleep(seconds)
        return False

    # -- creates -------------------------------------------------------------------------------

    async def create_phone_call(self, request: CreateCallRequest) -> CreateOutcome:
        await anyio.lowlevel.checkpoint()
        self._count("create-phone-call")
        now = self.time.seconds()
        key = request.idempotency_key
        record = CreateRecord(now, request.to_number, key, None, "")
        self.creates.append(record)
        if self._unreachable is not None:
            record.answer = "not-sent"
            return NotPlaced(f"request not sent: {self._unreachable}")
        known = self._by_key.get(key) if key else None
        if known is not None and now - known.created < IDEMPOTENCY_SECONDS:
            record.call_id, record.answer = known.call_id, "idempotent-replay"
            return Placed(self._snapshot(known, now))
        fault = self._create_fault(request.to_number)
        if fault is CreateFault.REJECTED:
            record.answer = "422"
            return NotPlaced("number rejected", 422, permanent=True)
        if fault is CreateFault.RATE_LIMITED:
            record.answer = "429"
            return NotPlaced("account rate limited", 429, retry_after=1.0)
        if self._alive(now) >= self.concurrency_limit:
            record.answer = "429-concurrency"
            return NotPlaced("concurrency limit reached", 429, retry_after=1.0)
        if fault is CreateFault.SERVER_ERROR:
            record.answer = "500-no-call"
            return Ambiguous("Internal server error", 500)
        call = self._make_call(request, now)
        record.call_id = call.call_id
        if fault is CreateFault.LOST:
            record.answer = "dropped-after-create"
            return Ambiguous("no answer after sending: RemoteProtocolError")
        record.answer = "201"
        return Placed(self._snapshot(call, now))

    def _create_fault(self, to_number: str) -> CreateFault | None:
        scripted = self.create_faults.get(to_number)
        if scripted:
            return scripted.pop(0)
        roll = self._rng.random()
        for fault, share in (
            (CreateFault.LOST, self.faults.lost),
            (CreateFault.SERVER_ERROR, self.faults.server_error),
            (CreateFault.RATE_LIMITED, self.faults.rate_limited),
        ):
            if roll < share:
                return fault
            roll -= share
        return None

    def _make_call(self, request: CreateCallRequest, now: float) -> FakeCall:
        scripted = self.endings.get(request.to_number)
        ending = scripted.pop(0) if scripted else self.default_ending
        call = FakeCall(
            call_id=f"call_{uuid.uuid4().hex}",
            request=request,
            ending=ending,
            created=now,
            created_ms=int(self.time.now().timestamp() * 1000),
        )
        self.calls[call.call_id] = call
        if request.idempotency_key:
            self._by_key[request.idempotency_key] = call
        return call

    # -- reads ---------------------------------------------------------------------------------

    async def get_concurrency(self) -> Concurrency:
        await anyio.lowlevel.checkpoint()
        self._count("get-concurrency")
        now = self.time.seconds()
        return Concurrency(
            concurrency_limit=self.concurrency_limit, current_concurrency=self._alive(now)
        )

    async def get_call(self, call_id: str) -> PhoneCall:
        await self._read("get-call")
        call = self.calls.get(call_id)
        if call is None:
            raise RetellStatusError(404, f"Call {call_id} not found")
        return self._snapshot(call, self.time.seconds())

    async def calls_by_id(
        self, call_ids: Sequence[str], statuses: Sequence[str] | None = None
    ) -> list[PhoneCall]:
        await self._read("list-calls")
        if statuses is not None:  # "which of these calls ended?": following, not a later pass
            self._count("list-calls/ended")
        now = self.time.seconds()
        found = [self.calls[i] for i in dict.fromkeys(call_ids) if i in self.calls]
        return [
            self._snapshot(c, now, listing=True)
            for c in found
            if self._listed(c, now) and (statuses is None or c.status_at(now) in statuses)
        ]

    async def find_calls_by_metadata(self, key: str, value: str) -> list[PhoneCall]:
        await self._read("list-calls")
        now = self.time.seconds()
        return [
            self._snapshot(c, now, listing=True)
            for c in self.calls.values()
            if self._listed(c, now) and str(c.request.metadata.get(key)) == value
        ]

    def _listed(self, call: FakeCall, now: float) -> bool:
        return now - call.created >= self.list_lag

    async def _read(self, endpoint: str) -> None:
        await anyio.lowlevel.checkpoint()
        self._count(endpoint)
        if self._rng.random() < self.faults.read_error:
            raise RetellStatusError(500, "Internal server error")

    def _count(self, endpoint: str) -> None:
        self.requests[endpoint] = self.requests.get(endpoint, 0) + 1

    def _alive(self, now: float) -> int:
        return sum(1 for c in self.calls.values() if c.terminal_at > now)

    def _snapshot(self, call: FakeCall, now: float, *, listing: bool = False) -> PhoneCall:
        """The call object as of `now` (a list item omits the recording, as Retell's do)."""
        request = call.request
        data: dict[str, Any] = {
            "call_id": call.call_id,
            "call_status": call.status_at(now),
            "call_type": "phone_call",
            "direction": "outbound",
            "agent_id": request.override_agent_id or "agent_fake",
            "from_number": request.from_number,
            "to_number": request.to_number,
            "metadata": request.metadata,
            "retell_llm_dynamic_variables": request.retell_llm_dynamic_variables,
            "start_timestamp": call.created_ms,
        }
        ending = call.ending
        if now >= call.terminal_at:
            duration_ms = int(ending.seconds * 1000)
            data["end_timestamp"] = call.created_ms + duration_ms
            data["duration_ms"] = duration_ms
            data["disconnection_reason"] = ending.reason
            data["call_cost"] = {"combined_cost": round(ending.seconds / 6, 2)}
            if ending.connected and now >= call.terminal_at + ending.analysis_after:
                data["call_analysis"] = {"call_successful": True, "in_voicemail": False}
                if ending.answers is not None:
                    data["call_analysis"]["custom_analysis_data"] = dict(ending.answers)
                if not listing:
                    data["recording_url"] = f"https://recordings.example/{call.call_id}.wav"
        return PhoneCall.model_validate(data)

    # -- for the tests' invariants ---------------------------------------------------------------

    def records(self) -> dict[str, Any]:
        """Every call and every create request (times on the virtual clock), in the
        simulator's shape."""
        return {
            "calls": [
                {
                    "call_id": c.call_id,
                    "to_number": c.request.to_number,
                    "from_number": c.request.from_number,
                    "agent_override": c.request.agent_override,
                    "agent_id": c.request.override_agent_id,
                    "agent_version": c.request.override_agent_version,
                    "created": c.created,
                    "terminal_at": c.terminal_at,
                    "reason": c.ending.reason,
                    "metadata": c.request.metadata,
                }
                for c in self.calls.values()
            ],
            "creates": [
                {
                    "at": r.at,
                    "to_number": r.to_number,
                    "idempotency_key": r.idempotency_key,
                    "call_id": r.call_id,
                    "answer": r.answer,
                }
                for r in self.creates
            ],
            "requests": dict(self.requests),
        }
