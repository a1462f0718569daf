"""The simulated Retell account: calls that progress over time, faults, and records for tests.

Everything here is synchronous and driven by a clock (`time.monotonic` by default), so it can be
tested without a server. `server.py` puts it behind HTTP.
"""

from __future__ import annotations

import heapq
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from dialer.domain.calls import ALIVE_CALL_STATUSES, CallStatus
from dialer.simulator.outcomes import Outcome, OutcomeRule, OutcomeScript, outcome_for
from dialer.simulator.workspace import Workspace

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_GET_CALL = re.compile(r"/v2/get-call/([^/]+)")
IDEMPOTENCY_SECONDS = 3600.0
# As Retell does, a call's analysis and cost come a while after it ended (with call_analyzed):
# tens of seconds, on the simulated clock.
ANALYSIS_SECONDS = 30.0


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
    burst_429_every: float = 0.0  # every N real seconds, creates get 429 for `burst_429_seconds`
    burst_429_seconds: float = 1.0


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering
    raw: bytes | None = None  # send these bytes as the body instead of `body` as JSON
    delay: float = 0.0


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
            return _error(401, "Invalid API key or API key not found")
        delay = self.faults.slow_seconds if self.rng.random() < self.faults.slow else 0.0
        endpoint = _endpoint_name(method, path)
        self.requests[endpoint] += 1
        if endpoint in ("get-call", "list-calls"):
            self.read_times.append(self.clock())
        reply = self._route(method, path, query, body)
        reply.delay = max(reply.delay, delay)
        return reply

    def _route(self, method: str, path: str, query: str, body: bytes) -> Reply:
        if path == "/v2/create-phone-call" and method == "POST":
            return self._create(body)
        if method == "GET" and (match := _GET_CALL.fullmatch(path)):
            return self._read_fault() or self._malformed(self._get(match.group(1)))
        if path == "/v3/list-calls" and method == "POST":
            if self.faults.list_down:
                return _error(503, "Service Unavailable")
            return self._read_fault() or self._malformed(self._list_v3(body))
        if path == "/v2/list-calls" and method == "GET":
            return self._read_fault() or self._list_v2(query)
        if path == "/get-concurrency" and method == "GET":
            return Reply(200, self._concurrency())
        if method == "GET" and (found := self.workspace.answer(path)) is not None:
            return Reply(*found)
        return _error(404, f"Cannot {method} {path}")

    def _read_fault(self) -> Reply | None:
        roll = self.rng.random()
        if roll < self.faults.read_5xx:
            return _error(500, "Internal server error")
        if roll < self.faults.read_5xx + self.faults.read_drop:
            return Reply(0, None, drop=True)
        return None

    def _malformed(self, reply: Reply) -> Reply:
        """With `read_malformed`, a 200 answer whose body is not the API's shape: an HTML
        page, truncated JSON, not an object, a call without its status or with one this
        version of the API does not have."""
        if reply.status != 200 or self.rng.random() >= self.faults.read_malformed:
            return reply
        good = json.dumps(reply.body).encode()
        kind = self.rng.randrange(5)
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

    def _in_429_burst(self, now: float) -> bool:
        every = self.faults.burst_429_every
        return every > 0 and ((now - self._start) % every) < self.faults.burst_429_seconds

    def _create(self, raw: bytes) -> Reply:
        now = self.clock()
        parsed = _json_object(raw)
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
        problem = _check_create_body(body)
        if problem is not None:
            record.answer = str(problem.status)
            return problem
        assert isinstance(to_number, str)
        rejection = self.script.peek_rejection(to_number)
        if rejection is not None:
            self.script.next_reason(to_number, self.rng)
            record.answer = rejection
            status = 422 if rejection == "reject_422" else 400
            return _error(status, f"Cannot call {to_number}: number rejected")
        outage = self.faults.create_outage
        if outage is not None and outage[0] <= now - self._start < outage[1]:
            record.answer = "503-outage"
            return _error(503, "Service Unavailable")
        if self._in_429_burst(now):
            record.answer = "429-burst"
            return _error(429, "Account rate limited", {"retry-after": "1"})
        if self.alive_count(now) >= self.concurrency_limit:
            record.answer = "429-concurrency"
            return _error(429, "Account concurrency limit reached", {"retry-after": "1"})
        roll = self.rng.random()
        if roll < self.faults.create_5xx:
            record.answer = "500-no-call"
            return _error(500, "Internal server error")

        call = self._make_call(body, now)
        record.call_id = call.call_id
        if roll < self.faults.create_5xx + self.faults.create_ambiguous:
            # The call exists, but the caller never learns it: half drops, half 5xx.
            if self.rng.random() < 0.5:
                record.answer = "dropped-after-create"
                return Reply(0, None, drop=True)
            record.answer = "502-after-create"
            return _error(502, "Bad gateway")
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
            answers=_answers(self.rng),
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
                data["call_analysis"] = _analysis(call, outcome.reason)
                data["call_cost"] = _cost(outcome.total_seconds)
            elif analyzed:
                data["call_cost"] = _cost(0.0)
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
            return _error(404, f"Call {call_id} not found")
        return Reply(200, self.call_json(call))

    def _filtered(self, criteria: dict[str, Any]) -> list[SimCall]:
        """The calls matching Retell's CallFilter (every condition ANDs): call_id (StringFilter
        or EnumFilter), call_status (EnumFilter), to_number/from_number (StringFilter),
        start_timestamp/end_timestamp (NumberFilter or RangeFilter, ms), metadata equality."""
        now = self.clock()
        ids = criteria.get("call_id")
        if isinstance(ids, dict) and ids.get("type") == "enum":
            wanted_ids = [i for i in ids.get("value") or [] if isinstance(i, str)]
            calls = [self.calls[i] for i in dict.fromkeys(wanted_ids) if i in self.calls]
        else:
            calls = list(self.calls.values())
            if isinstance(ids, dict):
                calls = [c for c in calls if _string_match(c.call_id, ids)]
        for field_name in ("to_number", "from_number"):
            condition = criteria.get(field_name)
            if isinstance(condition, dict):
                calls = [c for c in calls if _string_match(getattr(c, field_name), condition)]
        status_filter = criteria.get("call_status")
        if isinstance(status_filter, dict):
            wanted = set(status_filter.get("value") or [])
            calls = [c for c in calls if self.status(c, now) in wanted]
        for stamp in ("start_timestamp", "end_timestamp"):
            condition = criteria.get(stamp)
            if isinstance(condition, dict):
                calls = [c for c in calls if _number_match(self._stamp(c, stamp, now), condition)]
        for condition in criteria.get("metadata") or []:
            if isinstance(condition, dict):
                key = condition.get("key")
                calls = [
                    c
                    for c in calls
                    if isinstance(c.metadata, dict)
                    and key in c.metadata
                    and _string_match(str(c.metadata[key]), condition)
                ]
        return calls

    def _stamp(self, call: SimCall, which: str, now: float) -> int | None:
        if which == "start_timestamp":
            return call.created_ms
        if self.status(call, now) in ALIVE_CALL_STATUSES:
            return None
        return call.created_ms + int(call.outcome.total_seconds * 1000)

    def _list_v3(self, raw: bytes) -> Reply:
        parsed = _json_object(raw or b"{}")
        if isinstance(parsed, Reply):
            return parsed
        problem = _list_request_problem(parsed)
        if problem is not None:
            return _error(400, problem)
        try:
            matching = self._filtered(parsed.get("filter_criteria") or {})
        except (TypeError, ValueError, AttributeError):  # a condition of the wrong shape
            return _error(400, "invalid filter_criteria")
        limit = parsed.get("limit", 50)
        calls = sorted(
            matching,
            key=lambda c: (c.created_ms, c.call_id),
            reverse=parsed.get("sort_order", "descending") == "descending",
        )
        start = 0
        page_key = parsed.get("pagination_key")
        if page_key:
            try:
                start = int(page_key.removeprefix("p"))
            except ValueError:
                return _error(400, "invalid pagination_key")
        start += parsed.get("skip", 0)
        page = calls[start : start + limit]
        has_more = start + limit < len(calls)
        now = self.clock()
        answer: dict[str, Any] = {
            "items": [self.call_json(c, now, listing=True) for c in page],
            "has_more": has_more,
        }
        if has_more:  # a string when there is a next page, absent otherwise (Retell's schema)
            answer["pagination_key"] = f"p{start + limit}"
        if parsed.get("include_total"):
            answer["total"] = len(calls)
        return Reply(200, answer)

    def _list_v2(self, query: str) -> Reply:
        params = parse_qs(query)
        criteria: dict[str, Any] = {}
        if "filter_criteria" in params:
            try:
                loaded = json.loads(params["filter_criteria"][0])
            except ValueError:
                return _error(400, "filter_criteria must be JSON")
            criteria = loaded if isinstance(loaded, dict) else {}
        try:
            limit = int(params.get("limit", ["50"])[0])
        except ValueError:
            return _error(400, "limit must be an integer")
        descending = params.get("sort_order", ["descending"])[0] == "descending"
        calls = sorted(self._filtered(criteria), key=lambda c: c.created_ms, reverse=descending)
        now = self.clock()
        return Reply(200, [self.call_json(c, now, listing=True) for c in calls[:limit]])

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
            return _error(401, "Invalid API key")
        if path == "/_sim/records" and method == "GET":
            return Reply(200, self.records())
        return _error(404, f"Cannot {method} {path}")

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
            "webhooks": list(self.webhooks),
            "requests": dict(self.requests),
            "read_times": list(self.read_times),
        }


def _string_match(value: str, condition: dict[str, Any]) -> bool:
    op, expected = condition.get("op", "eq"), str(condition.get("value", ""))
    if op == "eq":
        return value == expected
    if op == "ne":
        return value != expected
    if op == "sw":
        return value.startswith(expected)
    if op == "ew":
        return value.endswith(expected)
    if op == "co":
        return expected in value
    return False


# What callees tell a renewal agent; some notes begin with '-' or '+', as spoken words do.
_NOTES = (
    "happy with the service",
    "-- not interested",
    "+1 call me back after five",
    "asked about the price",
    "",
)
CENTS_PER_SECOND = 0.1167  # about 7 cents a minute, as Retell's voice pricing


def _answers(rng: random.Random) -> dict[str, Any]:
    return {
        "renewed": rng.random() < 0.45,
        "plan": rng.choice(["basic", "plus", "premium"]),
        "callback_requested": rng.random() < 0.1,
        "notes": rng.choice(_NOTES),
    }


def _analysis(call: SimCall, reason: str) -> dict[str, Any]:
    return {
        "call_summary": f"Simulated call ended by {reason}.",
        "user_sentiment": _sentiment(call.answers),
        "call_successful": reason in {"agent_hangup", "call_transfer"} or call.answers["renewed"],
        "in_voicemail": reason == "voicemail_reached",
        "custom_analysis_data": dict(call.answers),
    }


def _sentiment(answers: dict[str, Any]) -> str:
    return "Positive" if answers.get("renewed") else "Neutral"


def _cost(seconds: float) -> dict[str, Any]:
    """Retell's call_cost: amounts in cents."""
    cost = round(seconds * CENTS_PER_SECOND, 4)
    return {
        "product_costs": [
            {"product": "retell_platform", "unit_price": CENTS_PER_SECOND, "cost": cost}
        ],
        "total_duration_seconds": round(seconds),
        "total_duration_unit_price": CENTS_PER_SECOND,
        "combined_cost": cost,
    }


def _number_match(value: int | None, condition: dict[str, Any]) -> bool:
    """Retell's NumberFilter (eq, ne, gt, ge, lt, le) or RangeFilter (bt, inclusive)."""
    if value is None:
        return False
    op, expected = condition.get("op"), condition.get("value")
    if op == "bt" and isinstance(expected, list) and len(expected) == 2:
        return bool(expected[0] <= value <= expected[1])
    if not isinstance(expected, int | float):
        return False
    return {
        "eq": value == expected,
        "ne": value != expected,
        "gt": value > expected,
        "ge": value >= expected,
        "lt": value < expected,
        "le": value <= expected,
    }.get(str(op), False)


def _endpoint_name(method: str, path: str) -> str:
    """create-phone-call, get-call, list-calls (v3), list-calls-v2, get-concurrency, …"""
    if _GET_CALL.fullmatch(path):
        return "get-call"
    if path == "/v2/list-calls":
        return "list-calls-v2"
    if not path.startswith("/v") and path.count("/") > 1:
        return path.strip("/").split("/")[0]  # get-agent, get-phone-number, …
    name = path.strip("/").split("/")[-1]
    return name or method.lower()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"status": "error", "message": message}, headers or {})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_request_problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a list-calls body by Retell's V3ListCallsRequest schema, if anything
    (the simulator answers 400 as Retell does, never fails on a field of the wrong type)."""
    limit, skip = body.get("limit", 50), body.get("skip", 0)
    if not isinstance(body.get("filter_criteria") or {}, dict):
        return "filter_criteria must be an object"
    if not _is_int(limit) or not 1 <= limit <= 1000:
        return "limit must be an integer from 1 to 1000"
    if not _is_int(skip) or skip < 0:
        return "skip must be an integer of at least 0"
    if body.get("sort_order", "descending") not in ("ascending", "descending"):
        return "sort_order must be ascending or descending"
    if not isinstance(body.get("pagination_key", ""), str):
        return "pagination_key must be a string"
    if "skip" in body and "pagination_key" in body:
        return "give skip or pagination_key, not both"
    if not isinstance(body.get("include_total", False), bool):
        return "include_total must be a boolean"
    return None


def _json_object(raw: bytes) -> dict[str, Any] | Reply:
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "Invalid JSON body")
    if not isinstance(body, dict):
        return _error(400, "The body must be a JSON object")
    return body


def _check_create_body(body: dict[str, Any]) -> Reply | None:
    for name in ("from_number", "to_number"):
        value = body.get(name)
        if not isinstance(value, str) or not value:
            return _error(400, f"{name} is required")
        if not _E164.fullmatch(value):
            return _error(400, f"{name} must be in E.164 format, got {value}")
    variables = body.get("retell_llm_dynamic_variables")
    if variables is not None:
        if not isinstance(variables, dict):
            return _error(422, "retell_llm_dynamic_variables must be an object")
        for key, value in variables.items():
            if not isinstance(value, str):
                return _error(422, f"retell_llm_dynamic_variables.{key} must be a string")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return _error(422, "metadata must be an object")
    return None
