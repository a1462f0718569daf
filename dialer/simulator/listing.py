"""Retell's list-calls as the simulator answers it: `POST /v3/list-calls` (a CallFilter, sort
order, limit, skip and a pagination key) and the seed era's `GET /v2/list-calls`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from dialer.domain.calls import ALIVE_CALL_STATUSES
from dialer.simulator.filters import number_match, string_match
from dialer.simulator.wire import Reply, error_reply, json_object, list_request_problem

if TYPE_CHECKING:
    from dialer.simulator.simulated import SimCall, SimulatedRetell


class CallListing:
    """The list endpoints over one simulated workspace's calls."""

    def __init__(self, engine: SimulatedRetell) -> None:
        self._engine = engine
        # when each list-calls filtered on call_status arrived ("which of these ended?": how
        # dialer follows calls, unlike reconciliations and later passes for analyses)
        self.end_ask_times: list[float] = []

    def filtered(self, criteria: dict[str, Any]) -> list[SimCall]:
        """The calls matching Retell's CallFilter (every condition ANDs): call_id (StringFilter
        or EnumFilter), call_status (EnumFilter), to_number/from_number (StringFilter),
        start_timestamp/end_timestamp (NumberFilter or RangeFilter, ms), metadata equality."""
        now = self._engine.clock()
        ids = criteria.get("call_id")
        if isinstance(ids, dict) and ids.get("type") == "enum":
            wanted_ids = [i for i in ids.get("value") or [] if isinstance(i, str)]
            calls = [
                self._engine.calls[i] for i in dict.fromkeys(wanted_ids) if i in self._engine.calls
            ]
        else:
            calls = list(self._engine.calls.values())
            if isinstance(ids, dict):
                calls = [c for c in calls if string_match(c.call_id, ids)]
        for field_name in ("to_number", "from_number"):
            condition = criteria.get(field_name)
            if isinstance(condition, dict):
                calls = [c for c in calls if string_match(getattr(c, field_name), condition)]
        status_filter = criteria.get("call_status")
        if isinstance(status_filter, dict):
            wanted = set(status_filter.get("value") or [])
            calls = [c for c in calls if self._engine.status(c, now) in wanted]
        for stamp in ("start_timestamp", "end_timestamp"):
            condition = criteria.get(stamp)
            if isinstance(condition, dict):
                calls = [c for c in calls if number_match(self._stamp(c, stamp, now), condition)]
        for condition in criteria.get("metadata") or []:
            if isinstance(condition, dict):
                key = condition.get("key")
                calls = [
                    c
                    for c in calls
                    if isinstance(c.metadata, dict)
                    and key in c.metadata
                    and string_match(str(c.metadata[key]), condition)
                ]
        return calls

    def _stamp(self, call: SimCall, which: str, now: float) -> int | None:
        if which == "start_timestamp":
            return call.created_ms
        if self._engine.status(call, now) in ALIVE_CALL_STATUSES:
            return None
        return call.created_ms + int(call.outcome.total_seconds * 1000)

    def v3(self, raw: bytes) -> Reply:
        parsed = json_object(raw or b"{}")
        if isinstance(parsed, Reply):
            return parsed
        problem = list_request_problem(parsed)
        if problem is not None:
            return error_reply(400, problem)
        criteria = parsed.get("filter_criteria") or {}
        if isinstance(criteria, dict) and "call_status" in criteria:
            self.end_ask_times.append(self._engine.clock())
        try:
            matching = self.filtered(criteria)
        except (TypeError, ValueError, AttributeError):  # a condition of the wrong shape
            return error_reply(400, "invalid filter_criteria")
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
                return error_reply(400, "invalid pagination_key")
        start += parsed.get("skip", 0)
        page = calls[start : start + limit]
        has_more = start + limit < len(calls)
        now = self._engine.clock()
        answer: dict[str, Any] = {
            "items": [self._engine.call_json(c, now, listing=True) for c in page],
            "has_more": has_more,
        }
        if has_more:  # a string when there is a next page, absent otherwise (Retell's schema)
            answer["pagination_key"] = f"p{start + limit}"
        if parsed.get("include_total"):
            answer["total"] = len(calls)
        return Reply(200, answer)

    def v2(self, query: str) -> Reply:
        params = parse_qs(query)
        criteria: dict[str, Any] = {}
        if "filter_criteria" in params:
            try:
                loaded = json.loads(params["filter_criteria"][0])
            except ValueError:
                return error_reply(400, "filter_criteria must be JSON")
            criteria = loaded if isinstance(loaded, dict) else {}
        try:
            limit = int(params.get("limit", ["50"])[0])
        except ValueError:
            return error_reply(400, "limit must be an integer")
        descending = params.get("sort_order", ["descending"])[0] == "descending"
        calls = sorted(self.filtered(criteria), key=lambda c: c.created_ms, reverse=descending)
        now = self._engine.clock()
        return Reply(200, [self._engine.call_json(c, now, listing=True) for c in calls[:limit]])
