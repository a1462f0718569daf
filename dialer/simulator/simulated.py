"""The simulated Retell account: calls that progress over time, faults, and records for tests.

Everything here is synchronous and driven by a clock (`time.monotonic` by default), so it can be
tested without a server. `server.py` puts it behind HTTP.
"""

from __future__ import annotations

import heapq
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from dialer.domain.calls import ALIVE_CALL_STATUSES, CallStatus
from dialer.simulator.faults import Faults, in_429_burst, malformed, read_fault
from dialer.simulator.listing import CallListing
from dialer.simulator.outcomes import Outcome, OutcomeRule, OutcomeScript, outcome_for
from dialer.simulator.talk import call_analysis, call_cost, callee_answers
from dialer.simulator.wire import (
    GET_CALL,
    Reply,
    create_body_problem,
    endpoint_name,
    error_reply,
    json_object,
)
from dialer.simulator.workspace import Workspace

IDEMPOTENCY_SECONDS = 3600.0
# As Retell does, a call's analysis and cost come a while after it ended (with call_analyzed):
# tens of seconds, on the simulated clock.
ANALYSIS_SECONDS = 30.0


@dataclass
class SimCall:
    """One call the simulator made. `created`/`terminal_at` are real monotonic seconds."""

    call_id: str
    from_number: str
    to_number: str
    agent_id: str
    metadata: Any
    variables: dict[str, str]
    outcome: Outcome
    created: float
    created_ms: int  # simulated wall clock, ms since epoch
    terminal_at: float  # real instant the call reaches its terminal status
    idempotency_key: str | None
    analysis_after: float = 0.0  # simulated seconds after the end its analysis and cost appear
    agent_override: Any = None
    answers: dict[str, Any] = field(default_factory=dict)  # what the callee told the agent

    def status_at(self, sim_elapsed: float) -> str:
        if sim_elapsed < self.outcome.ring_seconds:
            return CallStatus.REGISTERED
        if self.outcome.connected and sim_elapsed < self.outcome.total_seconds:
            return CallStatus.ONGOING
        return self.outcome.status


@dataclass
class CreateRecord:
    """Every create request received, answered or not (for the tests' invariants)."""

    at: float
    to_number: str
    idempotency_key: str | None
    call_id: str | None
    answer: str


class SimulatedRetell:
    """The state of one simulated Retell workspace."""

    def __init__(
        self,
        *,
        api_key: str = "sim-key",
        speed: float = 1.0,
        concurrency_limit: int = 20,
        faults: Faults | None = None,
        rules: list[OutcomeRule] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        default_agent_id: str = "agent_simulated",
        webhook_url: str | None = None,
        call_seconds: tuple[float, float] | None = None,
        late_analysis_share: float = 1.0,
        late_analysis_seconds: float = ANALYSIS_SECONDS,
        spam_after: dict[str, int] | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.api_key = api_key
        self.speed = speed
        self.concurrency_limit = concurrency_limit
        self.faults = faults or Faults()
        self.script = OutcomeScript(rules=list(rules or []))
        self.rng = random.Random(seed)
        self.clock = clock
        self.default_agent_id = default_agent_id
        # the account's key info, agents, LLMs, flows and numbers (get-agent, …)
        self.workspace = workspace or Workspace(default_agent_id=default_agent_id)
        self._start = clock()
        self._epoch_ms = int(time.time() * 1000)
        self.calls: dict[str, SimCall] = {}
        # from-number → how many calls it makes before carriers flag it: later calls from it
        # end `marked_as_spam`
        self.spam_after = dict(spam_after or {})
        self._calls_from: dict[str, int] = {}
        self.creates: list[CreateRecord] = []
        self._by_key: dict[str, SimCall] = {}
        self._live_ends: list[float] = []  # heap of terminal instants of calls still alive
        # Webhooks: (terminal instant, call id) of calls whose end is not yet reported.
        self.webhook_url = webhook_url
        # (low, high): every call connects and lasts uniform(low, high) simulated seconds
        # (unscripted numbers; for benchmarks of how fast dialer notices an end)
        self.call_seconds = call_seconds
        # As Retell does, calls' analysis and cost appear only a while (simulated seconds)
        # after the call ended: this share of the calls (all, by default).
        self.late_analysis_share = late_analysis_share
        self.late_analysis_seconds = late_analysis_seconds
        self._unreported: list[tuple[float, str, str]] = []  # (when, call id, event)
        self.webhooks: list[dict[str, Any]] = []  # deliveries, for tests
        self.requests: Counter[str] = Counter()  # answered requests, by endpoint
        self.listing = CallListing(self)  # list-calls, v3 and the seed era's v2
        self.read_times: list[float] = []  # when each get-call or list-calls arrived

    # -- clock -----------------------------------------------------------------------------

    def sim_ms(self, real: float | None = None) -> int:
        real = self.clock() if real is None else real
        return self._epoch_ms + int((real - self._start) * self.speed * 1000)

    def status(self, call: SimCall, real: float | None = None) -> str:
        real = self.clock() if real is None else real
        return call.status_at((real - call.created) * self.speed)

    def alive_count(self, real: float | None = None) -> int:
        """Calls registered or ongoing now (what the account's concurrency limit counts)."""
        real = self.clock() if real is None else real
        while self._live_ends and self._live_ends[0] <= real:
            heapq.heappop(self._live_ends)
        return len(self._live_ends)

    # -- the API ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request."""
        path, _, query = target.partition("?")
        if path.startswith("/_sim/"):
            return self._admin(method, path, headers)
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return error_reply(401, "Invalid API key or API key not found")
        delay = self.faults.slow_seconds if self.rng.random() < self.faults.slow else 0.0
        endpoint = endpoint_name(method, path)
        self.requests[endpoint] += 1
        if endpoint in ("get-call", "list-calls"):
            self.read_times.append(self.clock())
        reply = self._route(method, path, query, body)
        reply.delay = max(reply.delay, delay)
        return reply

    def _route(self, method: str, path: str, query: str, body: bytes) -> Reply:
        if path == "/v2/create-phone-call" and method == "POST":
            return self._create(body)
        if method == "GET" and (match := GET_CALL.fullmatch(path)):
            return self._read(lambda: self._get(match.group(1)))
        if path == "/v3/list-calls" and method == "POST":
            if self.faults.list_down:
                return error_reply(503, "Service Unavailable")
            return self._read(lambda: self.listing.v3(body))
        if path == "/v2/list-calls" and method == "GET":
            return read_fault(self.faults, self.rng) or self.listing.v2(query)
        if path == "/get-concurrency" and method == "GET":
            return Reply(200, self._concurrency())
        if method == "GET" and (found := self.workspace.answer(path)) is not None:
            return Reply(*found)
        return error_reply(404, f"Cannot {method} {path}")

    def _read(self, answer: Callable[[], Reply]) -> Reply:
        """A read's answer, unless a fault takes its place or spoils it."""
        return read_fault(self.faults, self.rng) or malformed(self.faults, self.rng, answer())

    def _create(self, raw: bytes) -> Reply:
        now = self.clock()
        parsed = json_object(raw)
        if isinstance(parsed, Reply):
            return parsed
        body = parsed
        key = body.get("idempotency_key")
        to_number = body.get("to_number")
        record = CreateRecord(now, str(to_number), key if isinstance(key, str) else None, None, "")
        self.creates.append(record)

        if isinstance(key, str) and key in self._by_key:
            existing = self._by_key[key]
            if now - existing.created < IDEMPOTENCY_SECONDS:
                record.call_id, record.answer = existing.call_id, "idempotent-replay"
                return Reply(201, self.call_json(existing, now))
        problem = create_body_problem(body)
        if problem is not None:
            record.answer = str(problem.status)
            return problem
        assert isinstance(to_number, str)
        rejection = self.script.peek_rejection(to_number)
        if rejection is not None:
            self.script.next_reason(to_number, self.rng)
            record.answer = rejection
            status = 422 if rejection == "reject_422" else 400
            return error_reply(status, f"Cannot call {to_number}: number rejected")
        if self.faults.create_refused is not None:
            record.answer = "400-refused"
            return error_reply(400, self.faults.create_refused)
        outage = self.faults.create_outage
        if outage is not None and outage[0] <= now - self._start < outage[1]:
            record.answer = "503-outage"
            return error_reply(503, "Service Unavailable")
        if in_429_burst(self.faults, now - self._start):
            record.answer = "429-burst"
            return error_reply(429, "Account rate limited", {"retry-after": "1"})
        if self.alive_count(now) >= self.concurrency_limit:
            record.answer = "429-concurrency"
            return error_reply(429, "Account concurrency limit reached", {"retry-after": "1"})
        roll = self.rng.random()
        if roll < self.faults.create_5xx:
            record.answer = "500-no-call"
            return error_reply(500, "Internal server error")

        call = self._make_call(body, now)
        record.call_id = call.call_id
        if roll < self.faults.create_5xx + self.faults.create_ambiguous:
            # The call exists, but the caller never learns it: half drops, half 5xx.
            if self.rng.random() < 0.5:
                record.answer = "dropped-after-create"
                return Reply(0, None, drop=True)
            record.answer = "502-after-create"
            return error_reply(502, "Bad gateway")
        if self.rng.random() < self.faults.create_no_id:
            record.answer = "201-without-id"
            return Reply(
                201, {k: v for k, v in self.call_json(call, now).items() if k != "call_id"}
            )
        record.answer = "201"
        return Reply(201, self.call_json(call, now))

    def _make_call(self, body: dict[str, Any], now: float) -> SimCall:
        to_number = str(body["to_number"])
        from_number = str(body["from_number"])
        made = self._calls_from.get(from_number, 0)
        self._calls_from[from_number] = made + 1
        reason = self.script.next_reason(to_number, self.rng)
        if from_number in self.spam_after and made >= self.spam_after[from_number]:
            reason = "marked_as_spam"
        outcome = outcome_for(reason, self.rng)
        if (
            self.call_seconds is not None
            and not self.script.scripted(to_number)
            and reason != "marked_as_spam"
        ):
            low, high = self.call_seconds
            outcome = Outcome(
                "user_hangup", CallStatus.ENDED, 0.5, self.rng.uniform(low, high) - 0.5
            )
        call = SimCall(
            call_id="call_" + uuid.uuid4().hex,
            from_number=from_number,
            to_number=to_number,
            agent_override=body.get("agent_override"),
            agent_id=str(body.get("override_agent_id") or self.default_agent_id),
            metadata=body.get("metadata"),
            variables=dict(body.get("retell_llm_dynamic_variables") or {}),
            outcome=outcome,
            created=now,
            created_ms=self.sim_ms(now),
            terminal_at=now + outcome.total_seconds / self.speed,
            idempotency_key=body.get("idempotency_key"),
            analysis_after=self.late_analysis_seconds
            if self.rng.random() < self.late_analysis_share
            else 0.0,
            answers=callee_answers(self.rng),
        )
        self.calls[call.call_id] = call
        heapq.heappush(self._live_ends, call.terminal_at)
        if self.webhook_url:
            heapq.heappush(self._unreported, (call.terminal_at, call.call_id, "call_ended"))
            if outcome.connected:
                analyzed_at = call.terminal_at + call.analysis_after / self.speed
                heapq.heappush(self._unreported, (analyzed_at, call.call_id, "call_analyzed"))
        if call.idempotency_key:
            self._by_key[call.idempotency_key] = call
        return call

    def call_json(
        self, call: SimCall, real: float | None = None, *, listing: bool = False
    ) -> dict[str, Any]:
        """The phone-call object as Retell shapes it, as of `real`."""
        real = self.clock() if real is None else real
        status = self.status(call, real)
        data: dict[str, Any] = {
            "call_id": call.call_id,
            "call_type": "phone_call",
            "agent_id": call.agent_id,
            "agent_version": 1,
            "call_status": status,
            "direction": "outbound",
            "from_number": call.from_number,
            "to_number": call.to_number,
            "metadata": call.metadata if call.metadata is not None else {},
            "retell_llm_dynamic_variables": call.variables,
            "opt_out_sensitive_data_storage": False,
            "start_timestamp": call.created_ms,
        }
        if status not in ALIVE_CALL_STATUSES:
            outcome = call.outcome
            end_ms = call.created_ms + int(outcome.total_seconds * 1000)
            data["end_timestamp"] = end_ms
            data["duration_ms"] = end_ms - call.created_ms
            data["disconnection_reason"] = outcome.reason
            analyzed = (real - call.terminal_at) * self.speed >= call.analysis_after
            if outcome.connected and not listing:
                # Retell's list items omit recordings and transcripts: read a call to have them
                data["recording_url"] = f"https://recordings.example/{call.call_id}.wav"
                data["transcript"] = "Agent: Hello!\nUser: Hi.\n"
            if outcome.connected and analyzed:
                data["call_analysis"] = call_analysis(call, outcome.reason)
                data["call_cost"] = call_cost(outcome.total_seconds)
            elif analyzed:
                data["call_cost"] = call_cost(0.0)
        return data

    def due_webhook_events(self, real: float | None = None) -> list[dict[str, Any]]:
        """Events due since the last call, as Retell posts them (the whole call object):
        `call_ended` when a call ends (without its analysis), `call_analyzed` when its analysis
        is done (connected calls, a while after the end)."""
        real = self.clock() if real is None else real
        events = []
        while self._unreported and self._unreported[0][0] <= real:
            _at, call_id, event = heapq.heappop(self._unreported)
            call = self.call_json(self.calls[call_id], real)
            if event == "call_ended":
                call.pop("call_analysis", None)
            events.append({"event": event, "call": call})
        return events

    def _get(self, call_id: str) -> Reply:
        call = self.calls.get(call_id)
        if call is None:
            return error_reply(404, f"Call {call_id} not found")
        return Reply(200, self.call_json(call))

    def _concurrency(self) -> dict[str, Any]:
        return {
            "concurrency_limit": self.concurrency_limit,
            "current_concurrency": self.alive_count(),
            "base_concurrency": self.concurrency_limit,
            "purchased_concurrency": 0,
            "concurrency_purchase_limit": 100,
            "remaining_purchase_limit": 100,
            "concurrency_burst_enabled": False,
            "concurrency_burst_limit": self.concurrency_limit,
            "reserved_inbound_concurrency": 0,
        }

    def _admin(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        """Records for tests and benchmarks that run the simulator in another process."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return error_reply(401, "Invalid API key")
        if path == "/_sim/records" and method == "GET":
            return Reply(200, self.records())
        return error_reply(404, f"Cannot {method} {path}")

    def records(self) -> dict[str, Any]:
        """Every call and every create request, with real (monotonic) times."""
        return {
            "calls": [
                {
                    "call_id": c.call_id,
                    "to_number": c.to_number,
                    "from_number": c.from_number,
                    "agent_override": c.agent_override,
                    "created": c.created,
                    "terminal_at": c.terminal_at,
                    "reason": c.outcome.reason,
                    "metadata": c.metadata,
                }
                for c in self.calls.values()
            ],
            "creates": [asdict(r) for r in self.creates],  # at, to_number, key, call, answer
            "webhooks": list(self.webhooks),
            "requests": dict(self.requests),
            "read_times": list(self.read_times),
            "end_ask_times": list(self.listing.end_ask_times),
        }
